"""The fault-injection suite: faults played on a whole local stack while runs are in flight."""
