"""What the services agree on: event payloads and topics, tracker ``changes`` models, identity."""
