"""ESC-50 experiments: the data set loader, the paper's Settings 1–4, reports and plots."""
