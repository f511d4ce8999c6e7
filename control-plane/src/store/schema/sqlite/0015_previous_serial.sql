-- The certificate an agent held before its last renewal. It is still accepted (the
-- renewal's answer may have been lost on the way) until the agent first uses the new
-- one; any older certificate is refused.
ALTER TABLE agents ADD COLUMN previous_cert_serial TEXT;
