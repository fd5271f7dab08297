"""Remediation: plans of disables and deletes, and applying them behind the safety rails.

``plan`` builds the actions from the findings (pure); ``rails`` holds the checks that need
no network; ``plan_file`` reads and writes plan files; ``actions`` performs one action with
its live re-check and confirmation by effect; ``audit_log`` appends one line per attempt;
``apply`` runs them all under the thresholds, the confirmation and the integrity guard.
"""
