DROP TABLE read_comments;
DROP TABLE read_posts;
DROP TABLE read_accounts;
