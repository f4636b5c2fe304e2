"""The benchmark gate: scenarios -> measure -> results -> store -> verdicts."""
