"""Remediation: plans of disables and deletes, and applying them behind the safety rails.

``plan`` is pure (findings and config in, actions out); ``apply`` holds the rails, the live
re-check and the audit log; ``scim_client`` speaks SCIM to the services.
"""
