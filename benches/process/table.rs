//! One row of the figures table: what was measured, ours against kubectl's,
//! and the target it is judged against.

pub(crate) struct Row {
    pub(crate) figure: String,
    pub(crate) ours: String,
    pub(crate) peer: String,
    pub(crate) ratio: String,
    pub(crate) target: String,
    pub(crate) met: String,
}

pub(crate) fn row(
    figure: impl Into<String>,
    ours: impl Into<String>,
    peer: impl Into<String>,
) -> Row {
    Row {
        figure: figure.into(),
        ours: ours.into(),
        peer: peer.into(),
        ratio: "".into(),
        target: "".into(),
        met: "".into(),
    }
}

impl Row {
    pub(crate) fn judged(mut self, ratio: String, target: &str, met: Option<bool>) -> Row {
        self.ratio = ratio;
        self.target = target.into();
        self.met = met.map_or_else(
            || "n/a".into(),
            |met| {
                if met { "yes".into() } else { "**no**".into() }
            },
        );
        self
    }
}
