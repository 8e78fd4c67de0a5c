print("egsh")
