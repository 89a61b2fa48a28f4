DROP TABLE otp_recovery_codes;
DROP TABLE user_otp;
