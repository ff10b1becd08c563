-- Counters that change with every write that can change what the pages show, so caches know
-- when to refresh — including deletions, which the tables' largest ids would not reveal.
-- `battles`: battles, verdicts, votes and judgments (ratings and scores);
-- `catalog`: question sets, questions, models and answers.
CREATE TABLE revisions (
    name  TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO revisions (name, n) VALUES ('battles', 0), ('catalog', 0);

CREATE TRIGGER battles_inserted AFTER INSERT ON battles BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'battles'; END;
CREATE TRIGGER battles_updated AFTER UPDATE ON battles BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'battles'; END;
CREATE TRIGGER battles_deleted AFTER DELETE ON battles BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'battles'; END;
CREATE TRIGGER judgments_inserted AFTER INSERT ON judgments BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'battles'; END;
CREATE TRIGGER judgments_updated AFTER UPDATE ON judgments BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'battles'; END;
CREATE TRIGGER judgments_deleted AFTER DELETE ON judgments BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'battles'; END;

CREATE TRIGGER question_sets_inserted AFTER INSERT ON question_sets BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'catalog'; END;
CREATE TRIGGER question_sets_updated AFTER UPDATE ON question_sets BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'catalog'; END;
CREATE TRIGGER question_sets_deleted AFTER DELETE ON question_sets BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'catalog'; END;
CREATE TRIGGER questions_inserted AFTER INSERT ON questions BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'catalog'; END;
CREATE TRIGGER questions_updated AFTER UPDATE ON questions BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'catalog'; END;
CREATE TRIGGER questions_deleted AFTER DELETE ON questions BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'catalog'; END;
CREATE TRIGGER models_inserted AFTER INSERT ON models BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'catalog'; END;
CREATE TRIGGER models_updated AFTER UPDATE ON models BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'catalog'; END;
CREATE TRIGGER models_deleted AFTER DELETE ON models BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'catalog'; END;
CREATE TRIGGER answers_inserted AFTER INSERT ON answers BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'catalog'; END;
CREATE TRIGGER answers_updated AFTER UPDATE ON answers BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'catalog'; END;
CREATE TRIGGER answers_deleted AFTER DELETE ON answers BEGIN UPDATE revisions SET n = n + 1 WHERE name = 'catalog'; END;
