"""Adapters: every conversation with the outside (DynamoDB, SQS, S3, SES/SMTP, webhooks, the
WebSocket management API). Import the domain and the settings, never services or the API."""
