"""Typer command line. Commands parse arguments, call the orchestrator/store, and print."""
