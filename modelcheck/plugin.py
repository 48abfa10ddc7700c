"""The pytest plugin: ``pytest --modelcheck`` (hooks and options only; being written, issue 4)."""
