"""The pure core: domain records and the rules of reconciliation.

Functions take data and return data; the clock is a parameter. Nothing here imports from
the rest of nhirecon, reads a file, or talks to a network.
"""
