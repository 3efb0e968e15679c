"""Live records of any kind: the plumbing each record kind is built from (see `install.py`)."""
