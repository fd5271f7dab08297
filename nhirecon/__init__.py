"""nhirecon: identity lifecycle reconciliation.

Pull identities from a source of truth and accounts from target apps, correlate them,
and report the accounts that should not exist.
"""

__version__ = "0.1.0"
