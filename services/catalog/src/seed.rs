//! The seed catalogue: thousands of plausible books, generated deterministically, loaded
//! idempotently. The course imports its catalogue from the monolith's `bookstore.books`;
//! a lab has no monolith, so it generates one.
//!
//! Why generate instead of shipping a data file: a 5,000-row SQL dump is 1 MB of noise in
//! the repository and in every review, and it cannot be resized. A generator is 200
//! lines, produces any size, and — because it is seeded — produces the *same* books on
//! every machine, so "page 3 sorted by price" means the same thing in every learner's lab
//! and in the bench.
//!
//! Determinism rules followed here:
//! - a fixed seed and `ChaCha8Rng`, whose output rand_chacha documents as stable across
//!   versions (`StdRng` may change algorithm between releases and would quietly reshuffle
//!   the catalogue);
//! - dates counted from a fixed epoch, never from "now";
//! - every ISBN derived from the book's index, so it is unique by construction and the
//!   UNIQUE index on `isbn` makes a re-run insert nothing (`INSERT IGNORE`).

use chrono::{DateTime, NaiveDateTime};
use rand::{Rng, SeedableRng, seq::IndexedRandom};
use rand_chacha::ChaCha8Rng;
use sqlx::{MySqlPool, QueryBuilder};

use crate::{Settings, domain::isbn13_check_digit};

/// How many books `catalog-service seed` loads when not told otherwise.
pub const DEFAULT_COUNT: usize = 5_000;

/// The fixed seed: change it and every lab's catalogue changes.
const SEED: u64 = 20_240_629;

/// Rows per `INSERT`: large enough to amortise round trips, small enough to stay far below
/// `max_allowed_packet` (each row is well under 1 KB).
const BATCH: usize = 500;

/// One generated book, before it has an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedBook {
    pub title: String,
    pub author: String,
    pub isbn: String,
    pub publisher: String,
    pub price: i64,
    pub stock: i32,
    pub description: String,
    pub created_at: NaiveDateTime,
}

// Word lists. Titles are composed as prefix + subject + suffix (technical books) or as
// the patterns of fiction and essays, in Chinese and English, the mix of a Chinese
// technical bookshop.
const ZH_PREFIX: &[&str] =
    &["深入理解", "精通", "实战", "从零开始学", "图解", "高性能", "现代", "趣学", "漫谈", "", ""];
const ZH_SUBJECT: &[&str] = &[
    "Go语言",
    "Rust编程",
    "分布式系统",
    "微服务架构",
    "MySQL",
    "Redis",
    "Kubernetes",
    "算法",
    "操作系统",
    "计算机网络",
    "机器学习",
    "数据结构",
    "Linux内核",
    "编译原理",
    "设计模式",
    "云原生",
    "数据库系统",
    "并发编程",
    "网络安全",
    "深度学习",
    "软件工程",
    "Java虚拟机",
    "Python",
    "前端工程化",
    "消息队列",
    "搜索引擎",
];
const ZH_SUFFIX: &[&str] = &[
    "",
    "",
    "（第2版）",
    "（第3版）",
    "实战",
    "原理与实践",
    "权威指南",
    "核心技术",
    "入门到精通",
    "设计与实现",
];
const ZH_FICTION_ADJ: &[&str] = &[
    "寂静的",
    "遥远的",
    "最后的",
    "长夜里的",
    "风中的",
    "北方的",
    "消失的",
    "永恒的",
    "平凡的",
    "温暖的",
];
const ZH_FICTION_NOUN: &[&str] =
    &["河流", "星辰", "城市", "故乡", "灯塔", "岁月", "森林", "少年", "信", "山谷", "图书馆"];
const EN_ADJ: &[&str] = &[
    "Practical",
    "Designing",
    "Programming",
    "Mastering",
    "Learning",
    "Effective",
    "Modern",
    "Pragmatic",
    "Advanced",
    "Hands-On",
];
const EN_SUBJECT: &[&str] = &[
    "Rust",
    "Go",
    "Distributed Systems",
    "Microservices",
    "Databases",
    "Redis",
    "Kubernetes",
    "Algorithms",
    "Operating Systems",
    "Networks",
    "Machine Learning",
    "Data-Intensive Applications",
    "Concurrency",
    "Compilers",
    "Cryptography",
    "Site Reliability",
];
const EN_SUFFIX: &[&str] = &[
    "",
    "",
    " in Action",
    ": A Practical Guide",
    ", 2nd Edition",
    " from Scratch",
    " Patterns",
    " for Beginners",
    " Cookbook",
];
const EN_FICTION: &[&str] = &[
    "The Silent River",
    "A Lantern in the Fog",
    "The Last Library",
    "Northern Lights",
    "The Glass Orchard",
    "Letters to Nowhere",
    "The Winter Garden",
    "Paper Moons",
];
const ZH_SURNAME: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
const ZH_GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "涛", "明", "超",
    "秀英", "志强", "建华", "晓东", "文博", "雨桐", "子轩",
];
const EN_FIRST: &[&str] = &[
    "James", "Mary", "Robert", "Patricia", "Michael", "Linda", "David", "Susan", "Martin", "Karen",
    "Alan", "Grace", "Brian", "Ada",
];
const EN_LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Brown",
    "Kleppmann",
    "Miller",
    "Davis",
    "Wilson",
    "Taylor",
    "Thompson",
    "Clark",
    "Lewis",
    "Walker",
    "Knuth",
    "Hopper",
];
const ZH_PUBLISHER: &[&str] = &[
    "机械工业出版社",
    "人民邮电出版社",
    "电子工业出版社",
    "清华大学出版社",
    "人民文学出版社",
    "中信出版社",
];
const EN_PUBLISHER: &[&str] =
    &["O'Reilly Media", "Manning", "No Starch Press", "Addison-Wesley", "Penguin"];

/// Keywords a learner (or the bench) can search for: the subjects the titles are made of.
pub fn sample_keywords() -> Vec<&'static str> {
    let mut words: Vec<&'static str> = ZH_SUBJECT.iter().chain(EN_SUBJECT).copied().collect();
    words.extend(["河流", "Rust", "实战", "Guide"]);
    words.dedup();
    words
}

/// A valid ISBN-13 for book `index`: `978` + `7` (China) or `1` (English) + 8 digits that
/// look random but are a bijection of the index (×7919 mod 10⁸; 7919 is prime and shares
/// no factor with 10⁸), so no two books share an ISBN.
fn isbn_for(index: usize, chinese: bool) -> String {
    let body = (index as u64 * 7919) % 100_000_000;
    let first12 = format!("978{}{body:08}", if chinese { '7' } else { '1' });
    let digits: Vec<u8> = first12.bytes().map(|b| b - b'0').collect();
    format!("{first12}{}", isbn13_check_digit(&digits))
}

/// The first `count` books of the seed catalogue. Same `count` → same books, always; and
/// the first N books of a larger catalogue are the N books of a smaller one.
pub fn generate(count: usize) -> Vec<SeedBook> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    // 2015-01-01T00:00:00Z and ten years of seconds after it.
    let epoch = 1_420_070_400_i64;
    let span = 10 * 365 * 24 * 3600_i64;
    let pick =
        |rng: &mut ChaCha8Rng, list: &[&'static str]| *list.choose(rng).expect("non-empty list");
    (0..count)
        .map(|i| {
            let chinese = rng.random_bool(0.6);
            let fiction = rng.random_bool(0.2);
            let (title, author, publisher) = if chinese {
                let title = if fiction {
                    format!("{}{}", pick(&mut rng, ZH_FICTION_ADJ), pick(&mut rng, ZH_FICTION_NOUN))
                } else {
                    format!(
                        "{}{}{}",
                        pick(&mut rng, ZH_PREFIX),
                        pick(&mut rng, ZH_SUBJECT),
                        pick(&mut rng, ZH_SUFFIX)
                    )
                };
                let author = format!("{}{}", pick(&mut rng, ZH_SURNAME), pick(&mut rng, ZH_GIVEN));
                (title, author, pick(&mut rng, ZH_PUBLISHER))
            } else {
                let title = if fiction {
                    pick(&mut rng, EN_FICTION).to_string()
                } else {
                    format!(
                        "{} {}{}",
                        pick(&mut rng, EN_ADJ),
                        pick(&mut rng, EN_SUBJECT),
                        pick(&mut rng, EN_SUFFIX)
                    )
                };
                let author = format!("{} {}", pick(&mut rng, EN_FIRST), pick(&mut rng, EN_LAST));
                (title, author, pick(&mut rng, EN_PUBLISHER))
            };
            // Prices as shops set them: 19.90 … 199.00 yuan, ending in .00, .80 or .90.
            let yuan = rng.random_range(19..=198_i64);
            let cents = *[0_i64, 80, 90].choose(&mut rng).expect("non-empty");
            let price = (yuan * 100 + cents).clamp(1_990, 19_900);
            let created = epoch + rng.random_range(0..span);
            let description = if chinese {
                format!("《{title}》由{author}所著，{publisher}出版。")
            } else {
                format!("{title} by {author}, published by {publisher}.")
            };
            SeedBook {
                isbn: isbn_for(i, chinese),
                price,
                stock: rng.random_range(0..=500),
                created_at: DateTime::from_timestamp(created, 0).expect("in range").naive_utc(),
                publisher: publisher.to_string(),
                title,
                author,
                description,
            }
        })
        .collect()
}

/// Inserts the first `count` seed books into `pool` (which must be migrated), skipping
/// any already present. Returns how many were new: `count` the first time, 0 after.
pub async fn seed_catalog(pool: &MySqlPool, count: usize) -> anyhow::Result<u64> {
    let books = generate(count);
    let mut inserted = 0;
    for chunk in books.chunks(BATCH) {
        let mut sql = QueryBuilder::new(
            "INSERT IGNORE INTO books (title, author, isbn, publisher, price, stock, description, created_at, updated_at) ",
        );
        sql.push_values(chunk, |mut row, b| {
            row.push_bind(&b.title)
                .push_bind(&b.author)
                .push_bind(&b.isbn)
                .push_bind(&b.publisher)
                .push_bind(b.price)
                .push_bind(b.stock)
                .push_bind(&b.description)
                .push_bind(b.created_at)
                .push_bind(b.created_at);
        });
        inserted += sql.build().execute(pool).await?.rows_affected();
    }
    Ok(inserted)
}

/// `catalog-service seed`: connect (creating and migrating the database if needed), load,
/// and invalidate cached lists so a running service shows the new books at once.
pub async fn seed_command(settings: &Settings, count: usize) -> anyhow::Result<u64> {
    let pool = bookstore_platform::db::connect(
        settings.common.mysql_url.expose(),
        &settings.common.database,
        2,
        &crate::migrator(),
    )
    .await?;
    let inserted = seed_catalog(&pool, count).await?;
    if inserted > 0 {
        // Redis is optional here: with no Redis there is no cache to invalidate.
        match bookstore_platform::cache::connect(settings.common.redis_url.expose()).await {
            Ok(conn) => {
                crate::cache::Cache::new(
                    conn,
                    &settings.common.redis_prefix,
                    crate::cache::Ttls {
                        list: std::time::Duration::from_secs(settings.list_ttl_secs),
                        detail: std::time::Duration::from_secs(settings.detail_ttl_secs),
                        negative: std::time::Duration::from_secs(settings.negative_ttl_secs),
                    },
                )
                .bump_list_version()
                .await
            }
            Err(e) => {
                tracing::warn!(error = %e, "redis unavailable; cached lists expire on their own")
            }
        }
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::parse_isbn;

    #[test]
    fn the_catalogue_is_the_same_on_every_run() {
        assert_eq!(generate(50), generate(50));
        assert_eq!(generate(10), generate(50)[..10].to_vec());
    }

    #[test]
    fn seed_books_are_valid_and_their_isbns_unique() {
        let books = generate(2_000);
        let mut isbns: Vec<_> = books.iter().map(|b| b.isbn.clone()).collect();
        isbns.sort();
        isbns.dedup();
        assert_eq!(isbns.len(), books.len());
        for b in &books {
            assert!(parse_isbn(&b.isbn).is_ok(), "{}", b.isbn);
            assert!((1_990..=19_900).contains(&b.price));
            assert!(!b.title.is_empty() && !b.author.is_empty());
        }
    }
}
