"""Per-branch delivery from GitHub Actions: the ``PaymentDelivery`` stack (GitHub's OIDC provider and the roles the
workflows assume), deployed once per account with ``make deploy-delivery REPO=owner/name`` (``delivery_app.py``)."""
