#!/usr/bin/env python3
"""Generate the example estate bundled with nhirecon.

Writes, next to this script:

    hr.csv              HR export, the source of truth for people (UTF-8 with a BOM)
    nhi_inventory.yaml  inventory of non-human identities kept in Git
    slack_scim.json     a saved SCIM 2.0 ListResponse of a chat workspace
    crm_users.csv       user export of a CRM
    wiki_users.jsonl    JSON Lines user export of a wiki
    cloud_keys.csv      service-account and API keys of a cloud account

The output is deterministic: fixed seeds, a fixed reference instant (AS_OF) and no
reading of the clock, so running the script twice gives byte-identical files. Every
planted date is relative to AS_OF; audit the estate with `--now 2026-11-28T00:00:00Z`.

Most accounts are clean (linked, active, recently used, attributes in step with HR).
The cases that should produce findings -- and a few look-alikes that must not -- are
listed explicitly below, each with the finding it should give ("-" means none).

Usage: python examples/generate.py   (Python 3.11+, standard library only)
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SEED = 20261128
AS_OF = datetime(2026, 11, 28, 0, 0, 0, tzinfo=UTC)  # 2026-11-28T00:00:00Z
OUT = Path(__file__).resolve().parent
DOMAIN = "example.com"
SCIM_BASE = "https://scim.example.com/scim/v2"
SCIM_NS = uuid.UUID("6f1c2a7e-3b8d-4e52-9a61-0d4c5e7f8a90")  # namespace for stable SCIM ids

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_ACTIVITY = "urn:example:params:scim:schemas:extension:activity:2.0:User"
SCIM_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


# ---------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------


@dataclass
class Person:
    """One row of hr.csv."""

    employee_id: str
    full_name: str
    status: str = "active"  # active | leave | terminated
    department: str = "Engineering"
    title: str = "Software Engineer"
    worker_type: str = "employee"  # employee | contractor
    end_date: str = ""  # ISO date; contractors only
    email: str = ""  # derived from the name when empty
    login: str = ""  # derived from the name when empty
    manager_email: str = ""  # filled in with the department head
    is_manager: bool = False


@dataclass
class Planted:
    """An account planted in a target, with the finding it should produce ("-": none).

    `who` is the employee_id of the HR row the account belongs to, or None for an
    account of nobody in HR (then `email` / `login` / `name` describe it). Times are in
    days before AS_OF; `last_login=None` means the account was never used.
    `via` is the target's own word for how the account was created:
    slack: scim | jit (no externalId); crm: scim | admin | sso | saml;
    wiki: scim | manual | jit.
    """

    expect: str
    who: str | None = None
    via: str = "scim"
    active: bool = True
    created: float = 400
    last_login: float | None = 5
    email: str = ""
    login: str = ""
    name: str = ""
    department: str | None = None  # overrides the HR value
    title: str | None = None  # overrides the HR value
    external_id: str | None = None  # slack: externalId of an account nobody in HR has
    account_id: str = ""  # fixed id in the export (otherwise numbered)


@dataclass
class PlantedKey:
    """A key planted in cloud_keys.csv, with the finding it should produce ("-": none)."""

    expect: str
    principal: str
    status: str = "Active"
    created: float = 60
    rotated: float | None = None  # days before AS_OF; None: same as created
    last_used: float | None = 2
    expires: str = ""  # ISO datetime or empty


# ---------------------------------------------------------------------------------------
# Planted cases
# ---------------------------------------------------------------------------------------

# The tables below are laid out by hand for reading; the formatter leaves them alone.
# fmt: off

# HR rows with a story. Their accounts are exactly the ones listed in PLANTED_* below.
PLANTED_PEOPLE = [
    # Leavers: terminated in HR while an account is still active somewhere.
    Person("E10014", "Ingrid Halvorsen", "terminated", "Sales", "Account Executive"),
    Person("E10027", "Marcus Webb", "terminated", "Sales", "Sales Development Representative"),
    Person("E10041", "Priya Raman", "terminated", "Engineering", "Software Engineer"),
    # Terminated and cleanly off-boarded: every account already disabled -> no finding.
    Person("E10056", "Tomás Ferreira", "terminated", "Support", "Support Specialist"),
    # Terminated people who still own non-human identities -> ownerless.
    Person("E10063", "Victor Lindqvist", "terminated", "Engineering", "Staff Engineer"),
    Person("E10078", "Nadia Haddad", "terminated", "IT Operations", "Systems Administrator"),
    # Contractors past their end_date, still `active` in HR -> expired where they have access.
    Person("E10085", "Zoë Ødegaard", "active", "Marketing", "Content Designer",
           "contractor", "2026-10-31"),
    Person("E10099", "Kwame Mensah", "active", "Sales", "Sales Consultant",
           "contractor", "2026-11-14"),
    # A terminated contractor past end_date whose account is disabled -> no finding.
    Person("E10274", "Sven Larsen", "terminated", "Engineering", "QA Engineer",
           "contractor", "2026-08-31"),
    # HR changed department or title, the app kept the old value -> stale-attribute.
    Person("E10104", "Hannah Becker", "active", "Product", "Product Manager"),
    Person("E10112", "José Núñez", "active", "Sales", "Senior Account Executive"),
    Person("E10127", "Aiko Tanaka", "active", "Support", "Support Team Lead"),
    Person("E10131", "Liam O'Connor", "active", "Security", "Security Engineer"),
    # Accounts created at first sign-in that link to a real person -> unmanaged.
    Person("E10146", "Chloé Martin", "active", "Marketing", "Marketing Manager"),
    Person("E10153", "Rahul Gupta", "active", "Finance", "Financial Analyst"),
    Person("E10168", "Fatima El Idrissi", "active", "Sales", "Account Manager"),
    Person("E10172", "Noah Fischer", "active", "Support", "Support Specialist"),
    Person("E10189", "Sofia Rossi", "active", "Product", "Product Designer"),
    # Dormant: no sign-in for months, or never since the account was created.
    Person("E10195", "Gregory Hale", "active", "Finance", "Controller"),
    Person("E10203", "Elif Yılmaz", "active", "Legal", "Legal Counsel"),
    Person("E10218", "Benjamin Clarke", "active", "Marketing", "Marketing Analyst"),
    Person("E10224", "Olga Petrova", "active", "Sales", "Sales Operations Analyst"),
    Person("E10237", "Daniel Kim", "active", "Engineering", "Software Engineer"),
    # A rehire whose old HR row was never closed: two rows share email and login -> ambiguous.
    Person("E10032", "Li Wei", "terminated", "Engineering", "Data Engineer",
           email="li.wei@example.com", login="lwei"),
    Person("E10288", "Li Wei", "active", "Engineering", "Senior Data Engineer",
           email="li.wei@example.com", login="lwei"),
    # Two people given the same login by HR -> ambiguous where only the login matches.
    Person("E10241", "Mei Chen", "active", "Product", "UX Researcher", login="mchen"),
    Person("E10256", "Ming Chen", "active", "Engineering", "Site Reliability Engineer",
           login="mchen"),
    # Clean look-alikes: mixed-case email in the crm; on leave (leave may hold access).
    Person("E10263", "Oliver Bennett", "active", "Sales", "Account Executive"),
    Person("E10270", "Amara Okonkwo", "leave", "Marketing", "Growth Marketer"),
]

# Someone who owns a non-human identity but exists nowhere in HR.
UNKNOWN_OWNER = "r.okafor@example.com"

# Chat workspace (saved SCIM ListResponse). via=scim: externalId present; via=jit: absent.
PLANTED_SLACK = [
    # leaver: SCIM deprovisioning never reached the workspace.
    Planted("leaver", "E10014", created=610, last_login=41),
    Planted("leaver", "E10027", created=350, last_login=33),
    # terminated and already deactivated -> no finding.
    Planted("-", "E10041", active=False, created=800, last_login=45),
    Planted("-", "E10056", active=False, created=900, last_login=61),
    Planted("-", "E10063", active=False, created=1200, last_login=70),
    Planted("-", "E10078", active=False, created=1000, last_login=52),
    Planted("-", "E10274", active=False, created=300, last_login=95),
    # expired: contractor past end_date 2026-10-31, still signing in.
    Planted("expired", "E10085", created=240, last_login=2),
    # stale-attribute: HR moved Hannah to Product; José was promoted.
    Planted("stale-attribute", "E10104", department="Engineering", created=700, last_login=1),
    Planted("stale-attribute", "E10112", title="Account Executive", created=500, last_login=3),
    # unmanaged: created at first sign-in (no externalId), matches HR by email.
    Planted("unmanaged", "E10146", via="jit", created=200, last_login=2),
    Planted("unmanaged", "E10153", via="jit", created=120, last_login=6),
    # dormant: last sign-in 163 days ago; never signed in, created 212 days ago.
    Planted("dormant", "E10195", created=900, last_login=163),
    Planted("dormant", "E10203", created=212, last_login=None),
    # ambiguous: JIT account of the rehired Li Wei; the email matches two HR rows.
    Planted("ambiguous", "E10288", via="jit", created=30, last_login=1),
    # clean look-alikes: shared login but unique externalId; on leave.
    Planted("-", "E10241", created=400, last_login=4),
    Planted("-", "E10256", created=380, last_login=2),
    Planted("-", "E10263", created=450, last_login=3),
    Planted("-", "E10270", created=600, last_login=24),
    # jit-orphan: guests who signed in through SSO; nobody in HR.
    Planted("jit-orphan", email="dana.whitfield@brightpath-agency.com", name="Dana Whitfield",
            via="jit", created=75, last_login=4),
    Planted("jit-orphan", email="g.moreau@freelance.example.net", name="Gaëlle Moreau",
            via="jit", created=140, last_login=12),
    # jit-orphan created 2026-11-25, under 3 days before AS_OF: a new hire not yet in the
    # HR export. Reported with orphan_grace_days 0, suppressed with orphan_grace_days >= 3.
    Planted("jit-orphan", email="samira.qureshi@example.com", name="Samira Qureshi",
            via="jit", created=3, last_login=2),
    # jit-orphan, but listed under `protected:` -> reported, never disabled.
    Planted("jit-orphan", login="breakglass-admin", email="breakglass-admin@example.com",
            name="Break Glass", via="jit", created=700, last_login=27),
    # orphan: provisioned by SCIM (externalId set) for HR rows that no longer exist.
    Planted("orphan", email="paul.drummond@example.com", name="Paul Drummond",
            external_id="E09412", created=900, last_login=18),
    Planted("orphan", email="renee.castillo@example.com", name="Renée Castillo",
            external_id="E09877", created=620, last_login=9),
    # deactivated guest of nobody -> no finding (a disabled account is not access).
    Planted("-", email="old.guest@partner.example.org", name="Old Guest", via="jit",
            active=False, created=500, last_login=300),
]

# CRM export. created_via: scim and admin are managed origins, sso and saml are JIT.
PLANTED_CRM = [
    # leaver: the CRM is not connected to lifecycle sync.
    Planted("leaver", "E10027", created=340, last_login=35),
    # terminated and disabled -> no finding.
    Planted("-", "E10056", active=False, created=880, last_login=62),
    # expired: contractor past end_date 2026-11-14, account created by an admin.
    Planted("expired", "E10099", via="admin", created=260, last_login=1),
    # stale-attribute: Aiko was promoted to team lead.
    Planted("stale-attribute", "E10127", title="Support Specialist", created=720, last_login=2),
    # unmanaged: linked by email but created at first sign-in.
    Planted("unmanaged", "E10168", via="sso", created=300, last_login=1),
    Planted("unmanaged", "E10172", via="saml", created=150, last_login=3),
    # dormant: never used, created 181 days ago; last sign-in 131 days ago.
    Planted("dormant", "E10218", created=181, last_login=None),
    Planted("dormant", "E10224", created=700, last_login=131),
    # ambiguous: the rehired Li Wei signed in through SSO; the email matches two HR rows.
    Planted("ambiguous", "E10288", via="sso", created=25, last_login=2),
    # clean look-alikes: mixed-case email (matching is case-insensitive); on leave.
    Planted("-", "E10263", email="Oliver.Bennett@Example.COM", created=430, last_login=1),
    Planted("-", "E10270", created=590, last_login=30),
    # jit-orphan: signed in through SSO / SAML, nobody in HR.
    Planted("jit-orphan", email="alex.morgan@northwind-consulting.com", via="sso",
            created=120, last_login=6),
    Planted("jit-orphan", email="k.brandt@example.com", via="saml", created=45, last_login=3),
    # orphan: a shared login created by an admin; a SCIM account whose HR row is gone.
    Planted("orphan", email="sales-ops-shared@example.com", via="admin",
            department="Sales", title="Shared mailbox", created=800, last_login=1),
    Planted("orphan", email="derek.olsen@example.com", created=1000, last_login=20),
    # orphan covered by an active exception (config: expires 2027-01-31) -> excepted.
    Planted("orphan", account_id="deploy-bot", email="deploy-bot@example.com", via="admin",
            created=365, last_login=1),
]

# Wiki export (JSON Lines). provisioning: scim | manual | jit.
PLANTED_WIKI = [
    # leaver: account created by hand, never removed.
    Planted("leaver", "E10041", via="manual", created=780, last_login=44),
    # terminated and suspended -> no finding.
    Planted("-", "E10056", active=False, created=870, last_login=63),
    # stale-attribute: Liam moved from Engineering to Security.
    Planted("stale-attribute", "E10131", department="Engineering", title="Software Engineer",
            created=640, last_login=2),
    # unmanaged: linked by email, created at first sign-in.
    Planted("unmanaged", "E10189", via="jit", created=260, last_login=1),
    # dormant: never used, created 301 days ago.
    Planted("dormant", "E10237", created=301, last_login=None),
    # ambiguous: the rehired Li Wei; the email matches two HR rows.
    Planted("ambiguous", "E10288", via="jit", created=28, last_login=1),
    # ambiguous: an old-domain address matches nobody, then login `mchen` matches two
    # HR rows (Mei Chen, Ming Chen): whose account is it?
    Planted("ambiguous", login="mchen", email="mchen@corp.example.org", name="M. Chen",
            via="manual", created=900, last_login=8),
    # jit-orphan: signed in once through SSO, nobody in HR.
    Planted("jit-orphan", login="guest-mbauer", email="m.bauer@acme-partners.de",
            name="Martin Bauer", via="jit", created=95, last_login=10),
    Planted("jit-orphan", login="jsilva", email="joao.silva@example.com", name="João Silva",
            via="jit", created=60, last_login=5),
    # orphan: accounts created by hand for automation nobody registered.
    Planted("orphan", login="svc-confluence-backup", email="wiki-backup@example.com",
            name="Wiki Backup", via="manual", created=1100, last_login=1),
    Planted("orphan", login="tmp-migration-admin", email="it-migration@example.com",
            name="Migration Admin", via="manual", created=230, last_login=15),
    # orphan whose exception expired on 2026-10-01 -> reported, says the exception expired.
    Planted("orphan", login="wiki-import-bot", email="wiki-import-bot@example.com",
            name="Wiki Import Bot", via="manual", created=420, last_login=20),
]

# Non-human identity inventory, in full. owner None: an active engineer picked by seed.
# (name, type, status, expires, owner, description)
NHI_INVENTORY = [
    ("svc-billing-export", "service_account", "active", None, None,
     "Nightly export of invoices to the data warehouse"),
    # ownerless: owner Victor Lindqvist is terminated in HR.
    ("svc-payroll-sync", "service_account", "active", None, "victor.lindqvist@example.com",
     "Pushes approved payroll runs to the payroll provider"),
    # ownerless: no owner at all.
    ("svc-analytics-export", "service_account", "active", None, "",
     "Exports product analytics events to the BI tool"),
    # ownerless: the owner's email exists nowhere in HR.
    ("ci-cache-warmer", "service_account", "active", None, UNKNOWN_OWNER,
     "Pre-fills the CI build cache every night"),
    # expired (source): still active past expires 2026-10-15; its key -> expired in cloud.
    ("svc-q3-campaign", "service_account", "active", "2026-10-15", None,
     "Q3 campaign landing-page uploader, meant to be temporary"),
    # retired with expires in the past -> no source finding; its Active key -> leaver.
    ("svc-old-reporting", "service_account", "retired", "2026-06-30", None,
     "Legacy reporting job, replaced by the warehouse loader"),
    # retired, key already Inactive -> no finding.
    ("svc-2024-migration", "service_account", "retired", "2025-03-31", None,
     "One-off data migration of 2024"),
    ("svc-backup-runner", "service_account", "active", None, None,
     "Runs database backups and uploads them to cold storage"),
    ("svc-log-shipper", "service_account", "active", None, None,
     "Ships application logs to the log platform"),
    ("svc-search-indexer", "service_account", "active", None, None,
     "Rebuilds the product search index"),
    ("svc-terraform", "service_account", "active", None, None,
     "Applies infrastructure changes from the main branch"),
    ("svc-github-actions", "service_account", "active", "2027-06-30", None,
     "Deploys from CI: assumed by the release workflow"),
    ("svc-k8s-external-dns", "service_account", "active", None, None,
     "Manages DNS records for cluster ingresses"),
    ("svc-crm-sync", "service_account", "active", None, None,
     "Syncs accounts and opportunities between the CRM and billing"),
    ("svc-data-warehouse-loader", "service_account", "active", None, None,
     "Loads raw events into the data warehouse"),
    ("svc-metrics-exporter", "service_account", "active", None, None,
     "Exports cloud billing metrics to monitoring"),
    ("svc-secrets-rotator", "service_account", "active", None, None,
     "Rotates database passwords and stores them in the vault"),
    ("svc-invoice-renderer", "service_account", "active", None, None,
     "Renders invoice PDFs"),
    ("svc-email-dispatch", "service_account", "active", None, None,
     "Sends transactional email through the mail provider"),
    ("svc-image-resizer", "service_account", "active", None, None,
     "Resizes uploaded images into thumbnails"),
    ("key-stripe-webhooks", "api_key", "active", "2027-05-31", None,
     "Verifies payment webhooks"),
    ("key-pagerduty-events", "api_key", "active", "2027-02-28", None,
     "Sends alerts to the on-call rotation"),
    ("key-datadog-ingest", "api_key", "active", "2027-08-31", None,
     "Metrics and traces ingestion"),
    ("key-sendgrid-mail", "api_key", "active", "2027-04-30", None,
     "Marketing email sending"),
    ("key-partner-webhook", "api_key", "active", "2027-03-31", None,
     "Signs webhooks sent to the logistics partner"),
    ("key-maps-geocoding", "api_key", "active", "2027-09-30", None,
     "Address geocoding for the checkout"),
    ("key-translation-api", "api_key", "active", "2027-07-31", None,
     "Machine translation of help-center articles"),
    ("key-status-page", "api_key", "active", "2027-01-31", None,
     "Updates the public status page"),
    ("key-sentry-relay", "api_key", "active", "2027-10-31", None,
     "Forwards error reports"),
    ("key-hubspot-import", "api_key", "active", "2027-03-31", None,
     "Imports marketing leads"),
    ("key-legacy-sms", "api_key", "active", None, None,
     "SMS one-time codes, legacy provider"),
    ("key-ai-summaries", "api_key", "active", "2027-12-31", None,
     "Summarises support tickets"),
    # expired (source): bot still active past expires 2026-05-01.
    ("standup-bot", "bot", "active", "2026-05-01", None,
     "Posts the daily stand-up prompt"),
    # ownerless: owner Nadia Haddad is terminated in HR.
    ("release-notes-bot", "bot", "active", None, "nadia.haddad@example.com",
     "Posts release notes to the announcements channel"),
    # not ownerless: owner given by HR login instead of email.
    ("oncall-bot", "bot", "active", None, "@login", "Pages the on-call engineer from chat"),
    ("deploy-notifier-bot", "bot", "active", None, None, "Announces deploys in chat"),
    # not ownerless: owner email written in mixed case.
    ("jira-triage-bot", "bot", "active", None, "Oliver.Bennett@Example.com",
     "Labels and routes incoming tickets"),
    ("dependabot-relay", "bot", "active", None, None,
     "Relays dependency update alerts to chat"),
    # not ownerless: owner is on leave, and leave may hold access.
    ("welcome-bot", "bot", "active", None, "amara.okonkwo@example.com",
     "Greets new joiners"),
    ("access-review-bot", "bot", "retired", None, None,
     "Sent quarterly access review reminders (replaced)"),
]

# Cloud keys that differ from the clean default (one Active, recently rotated key per
# service account / API key). Principal names match the inventory `name` unless noted.
PLANTED_KEYS = [
    # stale-credential: rotated 142 and 403 days ago, still in daily use.
    PlantedKey("stale-credential", "svc-backup-runner", created=142, last_used=1),
    PlantedKey("stale-credential", "key-legacy-sms", created=403, last_used=3),
    # dormant: rotated by the secrets manager, but unused for 204 days / never used.
    PlantedKey("dormant", "svc-image-resizer", created=330, rotated=31, last_used=204),
    PlantedKey("dormant", "key-translation-api", created=150, rotated=20, last_used=None),
    # expired: the key's own expires_at (2026-09-30) is past, key still Active.
    PlantedKey("expired", "key-partner-webhook", created=80, last_used=1,
               expires="2026-09-30T00:00:00Z"),
    # expired: the key's identity svc-q3-campaign is past its expires (2026-10-15).
    PlantedKey("expired", "svc-q3-campaign", created=70, last_used=4),
    # leaver: the identity svc-old-reporting is retired, its key is still Active.
    PlantedKey("leaver", "svc-old-reporting", created=75, last_used=6),
    # retired identity with an Inactive key -> no finding.
    PlantedKey("-", "svc-2024-migration", status="Inactive", created=700, last_used=640),
    # orphan: principals that are not in the inventory.
    PlantedKey("orphan", "svc-legacy-etl", created=40, last_used=1),
    PlantedKey("orphan", "tmp-debug-2025", created=55, last_used=9),
]


# ---------------------------------------------------------------------------------------
# The rest of the population
# ---------------------------------------------------------------------------------------

HR_SIZE = 300

DEPARTMENTS = {  # department: (relative size, titles)
    "Engineering": (78, ["Software Engineer", "Senior Software Engineer", "Staff Engineer",
                         "Engineering Manager", "Site Reliability Engineer", "Data Engineer",
                         "QA Engineer"]),
    "Product": (20, ["Product Manager", "Senior Product Manager", "Product Designer",
                     "UX Researcher"]),
    "Sales": (46, ["Account Executive", "Senior Account Executive", "Account Manager",
                   "Sales Development Representative", "Sales Engineer"]),
    "Marketing": (20, ["Marketing Manager", "Content Designer", "Marketing Analyst",
                       "Growth Marketer"]),
    "Support": (34, ["Support Specialist", "Technical Support Engineer", "Support Team Lead"]),
    "Finance": (14, ["Financial Analyst", "Accountant", "Payroll Specialist"]),
    "People": (10, ["HR Business Partner", "Recruiter", "People Operations Specialist"]),
    "Legal": (6, ["Legal Counsel", "Paralegal", "Compliance Analyst"]),
    "Security": (10, ["Security Engineer", "Security Analyst", "GRC Analyst"]),
    "IT Operations": (10, ["Systems Administrator", "IT Support Technician",
                           "Identity Engineer"]),
}
HEAD_TITLES = {
    "Engineering": "VP Engineering", "Product": "VP Product", "Sales": "VP Sales",
    "Marketing": "Head of Marketing", "Support": "Head of Support", "Finance": "CFO",
    "People": "Head of People", "Legal": "General Counsel", "Security": "CISO",
    "IT Operations": "Head of IT",
}
CRM_DEPARTMENTS = {"Sales", "Support", "Marketing", "Finance"}
WIKI_DEPARTMENTS = {"Engineering", "Product", "Security", "IT Operations"}
NHI_OWNER_DEPARTMENTS = {"Engineering", "Security", "IT Operations"}
BOTS_WITH_KEYS = {"oncall-bot", "deploy-notifier-bot"}  # the other bots hold no cloud key

HR_COLUMNS = ["employee_id", "work_email", "login", "full_name", "employment_status",
              "department", "job_title", "manager_email", "worker_type", "end_date"]
CRM_COLUMNS = ["user_id", "email", "enabled", "created", "last_login", "created_via",
               "department", "title"]
CLOUD_COLUMNS = ["key_id", "principal", "created", "last_used", "rotated_at", "expires_at",
                 "status"]

FIRST_NAMES = [
    "Adam", "Adriana", "Ahmed", "Alice", "Ana", "Anaïs", "Andrei", "Anna", "Arjun", "Beatriz",
    "Ben", "Björn", "Camille", "Carlos", "Clara", "David", "Diego", "Elena", "Emma", "Erik",
    "Eva", "Farah", "Felix", "François", "Gabriel", "Grace", "Hana", "Henrik", "Igor",
    "Imani", "Inés", "Isaac", "Jack", "Jamal", "Julia", "Jürgen", "Karim", "Kate", "Laura",
    "Leo", "Lucía", "Łukasz", "Maja", "Małgorzata", "Mateo", "Maya", "Mohammed", "Nina",
    "Omar", "Paula", "Pedro", "Rachel", "Renée", "Ryan", "Sara", "Sebastian", "Siddharth",
    "Sophie", "Søren", "Tariq", "Thomas", "Valentina", "Yuki", "Zara",
]
LAST_NAMES = [
    "Adams", "Alvarez", "Andersen", "Baker", "Brown", "Campbell", "Carter", "Costa",
    "Dubois", "Dvořák", "Evans", "Fernández", "Garcia", "Green", "Hall", "Hansen", "Hughes",
    "Ivanova", "Jensen", "Johnson", "Jones", "Kaur", "Khan", "Kowalski", "Kumar", "Larsson",
    "Lee", "Lefèvre", "Lopez", "Martins", "Meyer", "Miller", "Moore", "Morales", "Müller",
    "Nakamura", "Nguyen", "Novak", "Nowak", "Öztürk", "Park", "Patel", "Peña", "Perez",
    "Petrov", "Phillips", "Popescu", "Reyes", "Richter", "Roberts", "Robinson", "Romero",
    "Santos", "Sato", "Schmidt", "Schneider", "Shah", "Singh", "Smith", "Sørensen", "Suzuki",
    "Taylor", "Thompson", "Torres", "Turner", "Walker", "Wang", "Watanabe", "Weber", "White",
    "Williams", "Wilson", "Wood", "Wright", "Wróbel", "Young", "Zhang",
]

# fmt: on


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

_TRANSLIT = str.maketrans(
    {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ı": "i", "ß": "ss", "æ": "ae", "Æ": "AE",
     "đ": "d", "'": "", "’": "", " ": "", "-": ""}
)  # fmt: skip


def ascii_fold(text: str) -> str:
    """'Zoë Ødegaard' -> 'ZoeOdegaard': what an HR system does to a name for an address."""
    text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    return (
        "".join(c for c in text if not unicodedata.combining(c)).encode("ascii", "ignore").decode()
    )


def split_name(full_name: str) -> tuple[str, str]:
    given, _, family = full_name.partition(" ")
    return given, family


def default_email(full_name: str) -> str:
    given, family = split_name(full_name)
    return f"{ascii_fold(given)}.{ascii_fold(family)}@{DOMAIN}".lower()


def default_login(full_name: str) -> str:
    given, family = split_name(full_name)
    return (ascii_fold(given)[0] + ascii_fold(family)).lower()


def ago(days: float, hour: int = 9, minute: int = 30) -> datetime:
    """`days` days before AS_OF, at a fixed time of that day (UTC)."""
    return (AS_OF - timedelta(days=days)).replace(hour=hour, minute=minute, second=0)


def random_ago(rng: random.Random, low_days: float, high_days: float) -> datetime:
    """A random instant between low_days and high_days before AS_OF, to the second."""
    return AS_OF - timedelta(seconds=rng.randrange(int(low_days * 86400), int(high_days * 86400)))


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(max(span, 1)))


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def iso_offset(moment: datetime, offset_minutes: int) -> str:
    if offset_minutes == 0:
        return iso_z(moment)
    return moment.astimezone(timezone(timedelta(minutes=offset_minutes))).isoformat()


def clean_times(rng: random.Random, person: Person) -> tuple[datetime, datetime]:
    """created / last sign-in of an ordinary account: created long ago, used recently."""
    created = random_ago(rng, 45, 1400)
    last_login = random_ago(rng, 0.05, 50 if person.status == "leave" else 30)
    return created, last_login


def disabled_times(rng: random.Random) -> tuple[datetime, datetime]:
    """created / last sign-in of a disabled account of a leaver."""
    last_login = random_ago(rng, 20, 500)
    created = last_login - timedelta(seconds=rng.randrange(30 * 86400, 1200 * 86400))
    return created, last_login


def planted_times(spec: Planted) -> tuple[datetime, datetime | None]:
    last_login = None if spec.last_login is None else ago(spec.last_login, 14, 5)
    return ago(spec.created, 8, 40), last_login


def reserved_names() -> tuple[set[str], set[str]]:
    """Emails and logins used by planted rows and accounts: the population avoids them."""
    emails = {UNKNOWN_OWNER}
    logins = set()
    for p in PLANTED_PEOPLE:
        emails.add((p.email or default_email(p.full_name)).lower())
        logins.add(p.login or default_login(p.full_name))
    for spec in PLANTED_SLACK + PLANTED_CRM + PLANTED_WIKI:
        if spec.email:
            emails.add(spec.email.lower())
            logins.add(spec.email.split("@")[0].lower())
        if spec.login:
            logins.add(spec.login.lower())
    return emails, logins


def person_account(
    p: Person,
    created: datetime,
    last_login: datetime | None,
    active: bool,
    *,
    via: str = "scim",
    external_id: str | None = None,
) -> dict[str, Any]:
    """An ordinary account of a person, in step with their HR row."""
    return {
        "created": created,
        "last_login": last_login,
        "active": active,
        "via": via,
        "email": p.email,
        "login": p.login,
        "name": p.full_name,
        "department": p.department,
        "title": p.title,
        "manager_email": p.manager_email,
        "external_id": external_id,
        "account_id": "",
    }


def planted_account(spec: Planted, by_id: dict[str, Person]) -> dict[str, Any]:
    """A planted account: its own attributes where given, else those of its HR row."""
    created, last_login = planted_times(spec)
    p = by_id[spec.who] if spec.who else None
    return {
        "created": created,
        "last_login": last_login,
        "active": spec.active,
        "via": spec.via,
        "email": spec.email or (p.email if p else ""),
        "login": spec.login or (p.login if p else ""),
        "name": spec.name or (p.full_name if p else ""),
        "department": spec.department or (p.department if p else None),
        "title": spec.title or (p.title if p else None),
        "manager_email": p.manager_email if p else "",
        "external_id": spec.external_id or (p.employee_id if p and spec.via == "scim" else None),
        "account_id": spec.account_id,
    }


# ---------------------------------------------------------------------------------------
# The people (shared by every file)
# ---------------------------------------------------------------------------------------


def build_people() -> list[Person]:
    """HR_SIZE people: a CEO, one head per department, the planted rows, and staff."""
    rng = random.Random(f"{SEED}:people")
    used_emails, used_logins = reserved_names()
    planted_ids = {p.employee_id for p in PLANTED_PEOPLE}
    next_number = 10001

    def next_id() -> str:
        nonlocal next_number
        while f"E{next_number}" in planted_ids:
            next_number += 1
        next_number += 1
        return f"E{next_number - 1}"

    def new_person(department: str, title: str, status: str = "active") -> Person:
        while True:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            email, login = default_email(name), default_login(name)
            if email not in used_emails and login not in used_logins:
                break
        used_emails.add(email)
        used_logins.add(login)
        return Person(next_id(), name, status, department, title, email=email, login=login)

    ceo = new_person("Executive", "Chief Executive Officer")
    ceo.is_manager = True
    heads = {}
    for department in DEPARTMENTS:
        head = new_person(department, HEAD_TITLES[department])
        head.manager_email, head.is_manager = ceo.email, True
        heads[department] = head

    staff_needed = HR_SIZE - 1 - len(heads) - len(PLANTED_PEOPLE)
    weights = [size for size, _ in DEPARTMENTS.values()]
    staff = []
    for _ in range(staff_needed):
        department = rng.choices(list(DEPARTMENTS), weights)[0]
        title = rng.choice(DEPARTMENTS[department][1])
        roll = rng.random()
        status = "active" if roll < 0.89 else "leave" if roll < 0.92 else "terminated"
        person = new_person(department, title, status)
        person.manager_email = heads[department].email
        if rng.random() < 0.09:
            person.worker_type = "contractor"
            if status == "terminated":
                person.end_date = (
                    (AS_OF - timedelta(days=rng.randrange(20, 400))).date().isoformat()
                )
            else:
                person.end_date = (
                    (AS_OF + timedelta(days=rng.randrange(30, 400))).date().isoformat()
                )
        staff.append(person)

    for p in PLANTED_PEOPLE:
        p.email = p.email or default_email(p.full_name)
        p.login = p.login or default_login(p.full_name)
        p.manager_email = heads[p.department].email

    people = [ceo, *heads.values(), *staff, *PLANTED_PEOPLE]
    return sorted(people, key=lambda p: p.employee_id)


def build_inventory(people: list[Person]) -> list[dict[str, Any]]:
    """The inventory rows, with owners resolved to people of the estate."""
    rng = random.Random(f"{SEED}:inventory")
    planted_ids = {p.employee_id for p in PLANTED_PEOPLE}
    engineers = [
        p
        for p in people
        if p.status == "active"
        and p.worker_type == "employee"
        and p.department in NHI_OWNER_DEPARTMENTS
        and p.employee_id not in planted_ids
    ]
    rows = []
    for number, (name, kind, status, expires, owner, description) in enumerate(NHI_INVENTORY, 1):
        if owner is None:
            owner = rng.choice(engineers).email
        elif owner == "@login":
            owner = rng.choice(engineers).login
        rows.append(
            {
                "id": f"nhi-{number:03d}",
                "name": name,
                "type": kind,
                "owner": owner,
                "status": status,
                "expires": expires,
                "description": description,
            }
        )
    return rows


# ---------------------------------------------------------------------------------------
# One function per file
# ---------------------------------------------------------------------------------------


def write_hr(people: list[Person]) -> None:
    """hr.csv: UTF-8 with a BOM and CRLF line ends, as spreadsheet-minded HR tools write."""
    with open(OUT / "hr.csv", "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(HR_COLUMNS)
        for p in people:
            writer.writerow(
                [p.employee_id, p.email, p.login, p.full_name, p.status, p.department, p.title,
                 p.manager_email, p.worker_type, p.end_date]
            )  # fmt: skip


def write_inventory(rows: list[dict[str, Any]]) -> None:
    """nhi_inventory.yaml, written by hand so the layout stays the one people edit."""
    lines = [
        "# Inventory of non-human identities: service accounts, API keys and bots.",
        "# Kept in Git and changed by pull request. Every identity has an owner who answers",
        "# for it; `expires` is the date it must be reviewed or removed by.",
        "identities:",
    ]
    for row in rows:
        lines += [
            f"  - id: {row['id']}",
            f"    name: {row['name']}",
            f"    type: {row['type']}",
            f"    owner: {row['owner'] or chr(34) * 2}",
            f"    status: {row['status']}",
            f"    expires: {row['expires'] or 'null'}",
            f"    description: {json.dumps(row['description'])}",
        ]
    (OUT / "nhi_inventory.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def scim_user(rng: random.Random, account: dict[str, Any]) -> dict[str, Any]:
    """One RFC 7643 User resource, with the enterprise and activity extensions."""
    user_id = str(uuid.uuid5(SCIM_NS, f"slack/{account['user_name'].lower()}"))
    created, last_login, active = account["created"], account["last_login"], account["active"]
    last_modified = between(rng, created, AS_OF - timedelta(hours=6))
    if last_login is not None and not active:  # deactivated after the last sign-in
        last_modified = min(
            max(last_modified, last_login + timedelta(days=1)), AS_OF - timedelta(hours=6)
        )
    given, family = split_name(account["name"])
    resource: dict[str, Any] = {"schemas": [SCIM_USER], "id": user_id}
    if account["external_id"]:
        resource["externalId"] = account["external_id"]
    resource["userName"] = account["user_name"]
    resource["name"] = {"formatted": account["name"], "givenName": given, "familyName": family}
    resource["displayName"] = account["name"]
    resource["emails"] = [{"value": account["email"], "type": "work", "primary": True}]
    resource["active"] = active
    if account["title"]:
        resource["title"] = account["title"]
    enterprise: dict[str, Any] = {}
    if account["department"]:
        enterprise["department"] = account["department"]
    if account["manager_email"]:
        manager_id = uuid.uuid5(SCIM_NS, f"slack/{account['manager_email'].lower()}")
        enterprise["manager"] = {"value": str(manager_id)}
    if enterprise:
        resource["schemas"].append(SCIM_ENTERPRISE)
        resource[SCIM_ENTERPRISE] = enterprise
    if last_login is not None:
        resource["schemas"].append(SCIM_ACTIVITY)
        resource[SCIM_ACTIVITY] = {"lastLoginAt": iso_z(last_login)}
    version = hashlib.sha1(f"{user_id}/{iso_z(last_modified)}".encode()).hexdigest()[:16]
    resource["meta"] = {
        "resourceType": "User",
        "created": iso_z(created),
        "lastModified": iso_z(last_modified),
        "version": f'W/"{version}"',
        "location": f"{SCIM_BASE}/Users/{user_id}",
    }
    return resource


def write_slack(people: list[Person]) -> None:
    """slack_scim.json: a saved SCIM ListResponse, everything on one page."""
    rng = random.Random(f"{SEED}:slack")
    by_id = {p.employee_id: p for p in people}
    planted_ids = {p.employee_id for p in PLANTED_PEOPLE}
    resources = []
    for p in people:
        if p.employee_id in planted_ids:
            continue
        if p.status != "terminated" and (p.is_manager or rng.random() < 0.84):
            created, last_login = clean_times(rng, p)
            active = True
        elif p.status == "terminated" and rng.random() < 0.55:
            created, last_login = disabled_times(rng)
            active = False
        else:
            continue
        account = person_account(p, created, last_login, active, external_id=p.employee_id)
        resources.append(scim_user(rng, account | {"user_name": p.email}))
    for spec in PLANTED_SLACK:
        account = planted_account(spec, by_id)
        resources.append(scim_user(rng, account | {"user_name": spec.login or account["email"]}))
    resources.sort(key=lambda r: (r["meta"]["created"], r["id"]))
    document = {
        "schemas": [SCIM_LIST],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    (OUT / "slack_scim.json").write_text(text, encoding="utf-8")


def write_crm(people: list[Person]) -> None:
    """crm_users.csv: enabled as yes/no or TRUE/FALSE, times with Z or an offset."""
    rng = random.Random(f"{SEED}:crm")
    by_id = {p.employee_id: p for p in people}
    planted_ids = {p.employee_id for p in PLANTED_PEOPLE}
    accounts = []
    for p in people:
        if p.employee_id in planted_ids:
            continue
        share = 0.95 if p.department in CRM_DEPARTMENTS else 0.16
        if p.status != "terminated" and rng.random() < share:
            created, last_login = clean_times(rng, p)
            active = True
        elif p.status == "terminated" and p.department in CRM_DEPARTMENTS and rng.random() < 0.5:
            created, last_login = disabled_times(rng)
            active = False
        else:
            continue
        via = "scim" if rng.random() < 0.85 else "admin"
        accounts.append(person_account(p, created, last_login, active, via=via))
    accounts += [planted_account(spec, by_id) for spec in PLANTED_CRM]
    accounts.sort(key=lambda a: (a["created"], a["email"]))
    offsets = [0, 0, 60, -300, 330, -480]  # minutes east of UTC the export writes times in
    with open(OUT / "crm_users.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CRM_COLUMNS)
        for number, a in enumerate(accounts, 1):
            yes, no = rng.choice([("yes", "no"), ("TRUE", "FALSE")])
            offset = rng.choice(offsets)
            last_seen = "" if a["last_login"] is None else iso_offset(a["last_login"], offset)
            writer.writerow(
                [a["account_id"] or f"crm-{number:05d}", a["email"], yes if a["active"] else no,
                 iso_offset(a["created"], offset), last_seen, a["via"], a["department"],
                 a["title"]]
            )  # fmt: skip


def write_wiki(people: list[Person]) -> None:
    """wiki_users.jsonl: one JSON object per line, department and title under `profile`."""
    rng = random.Random(f"{SEED}:wiki")
    by_id = {p.employee_id: p for p in people}
    planted_ids = {p.employee_id for p in PLANTED_PEOPLE}
    accounts = []
    for p in people:
        if p.employee_id in planted_ids:
            continue
        share = 0.72 if p.department in WIKI_DEPARTMENTS else 0.1
        if p.status != "terminated" and rng.random() < share:
            created, last_login = clean_times(rng, p)
            active = True
        elif p.status == "terminated" and p.department in WIKI_DEPARTMENTS and rng.random() < 0.5:
            created, last_login = disabled_times(rng)
            active = False
        else:
            continue
        via = "scim" if rng.random() < 0.7 else "manual"
        accounts.append(person_account(p, created, last_login, active, via=via))
    accounts += [planted_account(spec, by_id) for spec in PLANTED_WIKI]
    accounts.sort(key=lambda a: (a["created"], a["login"]))
    with open(OUT / "wiki_users.jsonl", "w", encoding="utf-8", newline="\n") as handle:
        for number, a in enumerate(accounts, 1):
            record = {
                "uid": f"wk-{number:05d}",
                "login": a["login"],
                "mail": a["email"],
                "state": "active" if a["active"] else "suspended",
                "profile": {"department": a["department"], "title": a["title"]},
                "createdAt": iso_ms(a["created"]),
                "lastSeen": None if a["last_login"] is None else iso_ms(a["last_login"]),
                "provisioning": a["via"],
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_cloud(inventory: list[dict[str, Any]]) -> None:
    """cloud_keys.csv: one row per key; a few identities also hold a rotated-out key."""
    rng = random.Random(f"{SEED}:cloud")
    planted = {key.principal for key in PLANTED_KEYS}
    keys: list[tuple[datetime, str, datetime | None, datetime, str, str]] = []
    for row in inventory:
        name = row["name"]
        if name in planted or (row["type"] == "bot" and name not in BOTS_WITH_KEYS):
            continue
        created = random_ago(rng, 5, 85)
        expires = ""
        if row["type"] == "api_key" and row["expires"]:
            expires = f"{row['expires']}T00:00:00Z"
        keys.append((created, name, random_ago(rng, 0.02, 3), created, expires, "Active"))
        if rng.random() < 0.25:  # the key this one replaced, deactivated at rotation
            old = created - timedelta(days=rng.randrange(90, 200))
            keys.append((old, name, created - timedelta(hours=2), old, "", "Inactive"))
    for key in PLANTED_KEYS:
        created = ago(key.created, 11, 15)
        rotated = created if key.rotated is None else ago(key.rotated, 3, 0)
        last_used = None if key.last_used is None else ago(key.last_used, 16, 45)
        keys.append((created, key.principal, last_used, rotated, key.expires, key.status))
    keys.sort(key=lambda k: (k[0], k[1]))
    with open(OUT / "cloud_keys.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CLOUD_COLUMNS)
        for created, principal, last_used, rotated, expires, status in keys:
            digest = hashlib.sha256(f"{principal}/{iso_z(created)}".encode()).hexdigest()
            last_used_text = "" if last_used is None else iso_z(last_used)
            writer.writerow(
                [f"ck-{digest[:16]}", principal, iso_z(created), last_used_text, iso_z(rotated),
                 expires, status]
            )  # fmt: skip


def main() -> None:
    people = build_people()
    inventory = build_inventory(people)
    write_hr(people)
    write_inventory(inventory)
    write_slack(people)
    write_crm(people)
    write_wiki(people)
    write_cloud(inventory)


if __name__ == "__main__":
    main()
