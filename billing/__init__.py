"""Carrier billing: CDRs, rating in integer fen, export files and reconciliation."""
