DROP INDEX users_email_lower;
DROP TABLE federated_identities;
