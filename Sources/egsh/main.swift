// egsh: the operator's shell for a running egressd (see Egsh.swift).
Egsh.main()
