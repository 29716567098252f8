//! A seeded environment to test against: licences, a main administration with two subs, and two
//! users with different rights. Built only through the store's public API.

use koppel_domain::licence::{LicenceState, PowerUp};
use koppel_domain::rights::{Right, Rights};
use koppel_domain::{AdministrationId, EnvironmentId, UserId};
use koppel_store::Store;
use koppel_store::platform::{Actor, NewAdministration, NewUser};

/// How long the AccountView trial of a fixture runs, counted from the store's clock.
const ACCOUNTVIEW_TRIAL_DAYS: i64 = 30;

/// A user created by a fixture, with the password to log in with.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: UserId,
    pub email: String,
    pub password: String,
}

/// One environment, seeded like a small installation company:
///
/// - licences: `sub_administrations` active with capacity 5, `power_bi` active, `accountview` on a trial
///   that ends 30 days after the store's clock;
/// - a main administration and two subs;
/// - `admin` with every right on all three, `user` with read and write rights on sub 1 only.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub environment: EnvironmentId,
    pub main: AdministrationId,
    pub sub1: AdministrationId,
    pub sub2: AdministrationId,
    pub admin: TestUser,
    pub user: TestUser,
}

impl Fixture {
    /// Seeds a new environment. Several fixtures can live in one database: e-mail addresses carry the
    /// environment id.
    ///
    /// # Panics
    /// When the store refuses any step; the fixture is meant to be valid.
    pub async fn create(store: &Store) -> Fixture {
        let environment = store
            .create_environment("Installatiegroep Koppel Test")
            .await
            .expect("create environment");
        let trial_until = store.now().date_naive() + chrono::Duration::days(ACCOUNTVIEW_TRIAL_DAYS);
        for (power_up, state, capacity) in [
            (PowerUp::SubAdministrations, LicenceState::Active, 5),
            (PowerUp::PowerBi, LicenceState::Active, 0),
            (PowerUp::Accountview, LicenceState::Trial { until: trial_until }, 0),
        ] {
            store
                .set_licence(environment, power_up, state, capacity, Actor::SYSTEM)
                .await
                .expect("set licence");
        }
        let mut administrations = Vec::new();
        for (name, is_main) in [
            ("Hoofdkantoor", true),
            ("Vestiging Utrecht", false),
            ("Vestiging Zwolle", false),
        ] {
            let new = NewAdministration {
                environment,
                name,
                is_main,
            };
            let administration = store
                .create_administration(new, Actor::SYSTEM)
                .await
                .expect("create administration");
            administrations.push(administration.id);
        }
        let [main, sub1, sub2] = administrations[..] else {
            unreachable!("three administrations were created")
        };

        // Password hashing is the slow part; the two users are hashed in parallel.
        let admin_email = format!("beheerder-{environment}@koppel.test");
        let user_email = format!("monteur-{environment}@koppel.test");
        let (admin, user) = tokio::join!(
            create_user(
                store,
                environment,
                &admin_email,
                "Anna Beheerder",
                "beheer-wachtwoord-1"
            ),
            create_user(store, environment, &user_email, "Bram Monteur", "monteur-wachtwoord-1"),
        );
        for administration in [main, sub1, sub2] {
            store
                .set_rights(admin.id, administration, Rights::all(), Actor::SYSTEM)
                .await
                .expect("grant admin rights");
        }
        let read_write: Rights = [Right::ReadData, Right::WriteData].into_iter().collect();
        store
            .set_rights(user.id, sub1, read_write, Actor(Some(admin.id)))
            .await
            .expect("grant user rights");

        Fixture {
            environment,
            main,
            sub1,
            sub2,
            admin,
            user,
        }
    }

    /// The three administrations, main first.
    pub fn administrations(&self) -> [AdministrationId; 3] {
        [self.main, self.sub1, self.sub2]
    }
}

async fn create_user(store: &Store, environment: EnvironmentId, email: &str, name: &str, password: &str) -> TestUser {
    let user = store
        .create_user(NewUser {
            environment,
            email,
            name,
            password,
            language: "nl",
        })
        .await
        .expect("create user");
    TestUser {
        id: user.id,
        email: user.email,
        password: password.to_string(),
    }
}
