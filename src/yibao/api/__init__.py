"""HTTP adapters: fsi/ is the national interface that a hospital's HIS talks to."""
