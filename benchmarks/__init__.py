"""Speed benchmarks of minidl against PyTorch (see benchmarks/README.md)."""
