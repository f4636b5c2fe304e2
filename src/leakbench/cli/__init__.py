"""The ``leakbench`` command line: ``main`` wires one thin module per subcommand."""
