"""Mail gateway (email-in): files scans and mails sent by staff into the right customer file.

Entry points: `dms mail-gateway` (SMTP, mail_gateway/smtp.py) and `dms mail-poll` (IMAP,
mail_gateway/imap.py). Both write each accepted message durably to the spool
(mail_gateway/spool.py) and then file it through `mail_gateway.filing.file_message`, which parses
(mail_gateway/parse.py), routes (mail_gateway/routing.py) and hands every attachment and the mail
itself to the ordinary upload use case (`dms.app.intake.receive`, source `email`).
"""
