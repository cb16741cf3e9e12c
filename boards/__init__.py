"""Per-board glue and `python -m boards.build`. Empty until the boards issue lands."""
