"""One module per ``leakbench`` subcommand; ``leakbench.cli`` wires them up."""
