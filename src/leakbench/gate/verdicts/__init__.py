"""Budgets and the rules that turn two results documents into verdicts."""
