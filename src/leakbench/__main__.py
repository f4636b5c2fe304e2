from leakbench.cli.entry import main

main()
