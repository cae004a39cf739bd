"""Who may do what: users with a role, API tokens with scopes, and the role → permission table.

`roles` is the one table of permissions; `repository` keeps users and tokens in the catalog
database (tables from `models`, migration 0003); `credentials` holds the secrets' formats and
checks (argon2id passwords, `dms_<id>_<secret>` tokens). `dms.web.auth` authenticates requests
with these.
"""
