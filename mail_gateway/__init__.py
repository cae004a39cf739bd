"""Mail gateway (email-in): files scans and mails sent by staff into the right customer file.

Not built yet: it is the subject of a later issue. The package exists so the layout is fixed.
"""
