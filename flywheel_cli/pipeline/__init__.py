"""`flywheel run`: the per-workload, per-NIM state machine; resume; cancel; cleanup."""
