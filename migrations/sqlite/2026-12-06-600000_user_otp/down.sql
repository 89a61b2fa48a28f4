DROP TABLE user_otp;
