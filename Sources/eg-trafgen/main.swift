print("eg-trafgen")
