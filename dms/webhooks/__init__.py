"""Webhooks: document events POSTed to configured endpoints, signed, delivered from an outbox.

The pipeline writes one outbox row per event and endpoint in the transaction that sets the
document's final status (`catalog.outbox.set_final_status`, dms/catalog/outbox.py); the worker
side (`dms serve` on embedded defaults, `dms worker` on Celery) delivers them (`delivery.py`).

- `config.py`: endpoints and the delivery policy from the settings
- `signing.py`: the signature (HMAC-SHA256 over `timestamp + "." + body`) and its headers
- `delivery.py`: one delivery round, and the thread that runs rounds until stopped
"""
