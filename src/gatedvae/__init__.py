"""Gated Variational AutoEncoders: weakly supervised disentanglement (Vowels, Camgoz & Bowden)."""

__version__ = "0.1.0"
