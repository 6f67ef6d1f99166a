"""The local stack: the whole service on one machine, on a local AWS endpoint."""
