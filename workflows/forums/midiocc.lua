-- MiDIOCC: the Migration Dialogue for the Indian Ocean Commission Countries.
-- Endorsed by the 34th Session of the IOC Council of Ministers (6 March 2020);
-- an informal, consensus-based regional consultative process on migration.

forum "midiocc" {
  short_name = "MiDIOCC",
  name = {
    en = "Migration Dialogue for the Indian Ocean Commission Countries",
    fr = "Dialogue sur la migration pour les pays de la Commission de l'océan Indien",
  },

  -- The Indian Ocean Commission's secretariat sits in Mauritius: decision years and
  -- displayed dates use this zone.
  time_zone = "Indian/Mauritius",
  languages = { "fr", "en" },

  members = {
    member "KM" { en = "Comoros",        fr = "Comores" },
    member "MG" { en = "Madagascar",     fr = "Madagascar" },
    member "MU" { en = "Mauritius",      fr = "Maurice" },
    member "RE" { en = "France/Réunion", fr = "France/La Réunion" },
    member "SC" { en = "Seychelles",     fr = "Seychelles" },
  },

  -- No chair has been appointed yet: the accounts holding the chair role act for the
  -- chair (recording outcomes, adopting agendas) and are shown as the acting chair.
  chair = {
    appointed = false,
    acting = "chair",
    title = { en = "Acting chair", fr = "Présidence par intérim" },
  },

  rules = {
    agenda_cutoff_days = 14,      -- items may be proposed up to 14 days before a meeting
    min_silence = "72h",          -- the shortest silence period
    reminders = { "48h", "24h" }, -- reminders before a deadline, to states yet to answer
    quorum = 0,                   -- meetings decide by consensus of those present
  },
}
