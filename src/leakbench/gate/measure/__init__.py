"""Measurement passes of the gate, each run in a fresh child process."""
