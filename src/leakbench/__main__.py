from leakbench.cli.main import main

main()
