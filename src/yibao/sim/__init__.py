"""Simulation: HIS clients that talk to yibao as a hospital does (and, later, the synthetic city)."""
