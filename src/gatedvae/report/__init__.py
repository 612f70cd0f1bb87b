"""The report beside the paper: its sections and its markdown/HTML document."""
