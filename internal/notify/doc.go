// Package notify is the domain of notifications: an organisation's
// channels (e-mail over SMTP, webhooks in JSON, Microsoft Teams or Slack
// format signed with HMAC-SHA256, MQTT), its rules (an alarm or anomaly
// raised, a machine down longer than N minutes, with escalation and quiet
// hours) and the durable queue of deliveries in the metadata store, sent
// with retries and back-off by the hub, whether or not anyone has the web
// application open. A message carries a signed link that acknowledges
// the alarm (in the factory domain) without signing in. docs/notifications.md
// describes it for users.
package notify
