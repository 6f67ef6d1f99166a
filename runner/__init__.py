"""The long-lived runner of a Docker host: receives executions from SQS and runs their containers."""
