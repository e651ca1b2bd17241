// Typed diffs compare every snapshotted column: a Rust type without `PartialEq` is
// refused with a message naming the cause and the fixes.
pub mod sql_types {
    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "mood"))]
    pub struct Mood;
}

#[derive(Debug, Clone, diesel::FromSqlRow, diesel::AsExpression)]
#[diesel(sql_type = sql_types::Mood)]
pub struct Mood(String);

impl diesel::deserialize::FromSql<sql_types::Mood, diesel::pg::Pg> for Mood {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        Ok(Mood(String::from_utf8_lossy(value.as_bytes()).into_owned()))
    }
}

impl diesel::serialize::ToSql<sql_types::Mood, diesel::pg::Pg> for Mood {
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
    ) -> diesel::serialize::Result {
        use std::io::Write;
        out.write_all(self.0.as_bytes())?;
        Ok(diesel::serialize::IsNull::No)
    }
}

pghistory_diesel::tracked_table! {
    use diesel::sql_types::*;
    use super::sql_types::Mood;

    #[pghistory(events(insert))]
    people (id) {
        id -> Int4,
        #[pghistory(rust_type = "crate::Mood")]
        mood -> Mood,
    }
}

fn main() {}
