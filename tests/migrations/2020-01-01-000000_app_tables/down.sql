DROP TABLE documents;
DROP TABLE app.accounts;
DROP SCHEMA app;
DROP TABLE "order";
DROP TABLE comments;
DROP TABLE posts;
DROP TYPE mood;
