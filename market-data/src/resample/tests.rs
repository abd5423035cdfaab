//! Unit and property tests of the resampler.

mod examples {
    use crate::resample::*;
    use crate::{NANOS_PER_DAY, NANOS_PER_SECOND, Side};

    const MINUTE: i64 = 60 * NANOS_PER_SECOND;

    /// A timestamp `secs` seconds after 2024-01-01T00:00:00Z.
    fn at(secs: i64) -> Timestamp {
        Timestamp(1_704_067_200 * NANOS_PER_SECOND + secs * NANOS_PER_SECOND)
    }

    fn trade(secs: i64, price: f64, qty: f64) -> (Timestamp, Trade) {
        let trade = Trade {
            price: Price(price),
            qty: Qty(qty),
            aggressor: Side::Buy,
        };
        (at(secs), trade)
    }

    fn bar(ts: Timestamp, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Bar {
        Bar {
            ts,
            open,
            high,
            low,
            close,
            volume,
        }
    }

    /// Pushes trades one at a time, returning what each push emits and what finish emits.
    fn stream(trades: &[(Timestamp, Trade)], rule: BarRule) -> (Vec<Option<Bar>>, Option<Bar>) {
        let mut resampler = Resampler::try_new(rule).unwrap();
        let pushed = trades
            .iter()
            .map(|(ts, trade)| resampler.push_trade(*ts, trade).unwrap())
            .collect();
        (pushed, resampler.finish())
    }

    #[test]
    fn time_bars_by_hand() {
        let trades = [
            trade(5, 10.0, 1.0),
            trade(30, 12.0, 2.0),
            trade(59, 11.0, 1.0),
            trade(60, 11.5, 3.0), // exactly on the boundary: opens the 00:01 bar
            trade(80, 9.0, 1.0),
            // 00:02 has no trade, so no bar.
            trade(190, 10.0, 4.0),
            trade(190, 10.5, 0.5), // same timestamp is fine
        ];
        let expected = [
            bar(at(0), 10.0, 12.0, 10.0, 11.0, 4.0),
            bar(at(60), 11.5, 11.5, 9.0, 9.0, 4.0),
            bar(at(180), 10.0, 10.5, 10.0, 10.5, 4.5),
        ];
        let rule = BarRule::Time {
            interval_ns: MINUTE,
        };
        assert_eq!(resample_trades(&trades, rule).unwrap(), expected);

        // Each bar comes out only when a tick of a later minute arrives.
        let (pushed, last) = stream(&trades, rule);
        let none = None;
        assert_eq!(
            pushed,
            [
                none,
                none,
                none,
                Some(expected[0]),
                none,
                Some(expected[1]),
                none
            ]
        );
        assert_eq!(last, Some(expected[2]));
    }

    #[test]
    fn tick_bars_by_hand() {
        let trades = [
            trade(1, 10.0, 1.0),
            trade(2, 11.0, 1.0),
            trade(3, 9.0, 2.0),
            trade(4, 9.5, 1.0),
            trade(4, 9.0, 1.0),
            trade(9, 12.0, 5.0),
            trade(10, 13.0, 1.0),
        ];
        let expected = [
            bar(at(1), 10.0, 11.0, 9.0, 9.0, 4.0),
            bar(at(4), 9.5, 12.0, 9.0, 12.0, 7.0),
            bar(at(10), 13.0, 13.0, 13.0, 13.0, 1.0),
        ];
        assert_eq!(
            resample_trades(&trades, BarRule::Ticks(3)).unwrap(),
            expected
        );
        // The third tick closes its bar at once: no waiting for a later tick.
        let (pushed, last) = stream(&trades, BarRule::Ticks(3));
        assert_eq!(pushed[2], Some(expected[0]));
        assert_eq!(pushed[5], Some(expected[1]));
        assert_eq!(last, Some(expected[2]));
    }

    #[test]
    fn volume_bars_by_hand() {
        let trades = [
            trade(1, 10.0, 2.0),
            trade(2, 11.0, 2.0),
            trade(3, 10.5, 1.0), // cumulative 5: reaches the threshold, closes the bar
            trade(4, 10.0, 4.0),
            trade(5, 12.0, 3.0), // cumulative 7: overshoots, still one bar, not split
            trade(6, 12.5, 1.0),
        ];
        let expected = [
            bar(at(1), 10.0, 11.0, 10.0, 10.5, 5.0),
            bar(at(4), 10.0, 12.0, 10.0, 12.0, 7.0),
            bar(at(6), 12.5, 12.5, 12.5, 12.5, 1.0),
        ];
        assert_eq!(
            resample_trades(&trades, BarRule::Volume(5.0)).unwrap(),
            expected
        );
        // One huge trade makes one bar on its own; the next bar starts empty.
        let trades = [trade(1, 10.0, 100.0), trade(2, 11.0, 1.0)];
        assert_eq!(
            resample_trades(&trades, BarRule::Volume(5.0)).unwrap(),
            [
                bar(at(1), 10.0, 10.0, 10.0, 10.0, 100.0),
                bar(at(2), 11.0, 11.0, 11.0, 11.0, 1.0)
            ]
        );
    }

    #[test]
    fn dollar_bars_by_hand() {
        let trades = [
            trade(1, 10.0, 3.0), // 30
            trade(2, 10.0, 5.0), // 80
            trade(3, 20.0, 1.0), // 100: closes
            trade(4, 50.0, 3.0), // 150: closes alone
            trade(5, 10.0, 1.0), // 10
            trade(6, 8.0, 0.0),  // a zero-quantity print still sets the close
        ];
        let expected = [
            bar(at(1), 10.0, 20.0, 10.0, 20.0, 9.0),
            bar(at(4), 50.0, 50.0, 50.0, 50.0, 3.0),
            bar(at(5), 10.0, 10.0, 8.0, 8.0, 1.0),
        ];
        assert_eq!(
            resample_trades(&trades, BarRule::Dollar(100.0)).unwrap(),
            expected
        );
    }

    #[test]
    fn thresholds_use_a_compensated_sum() {
        let trades: Vec<_> = (0..20).map(|i| trade(i, 1.0, 0.1)).collect();
        let bars = resample_trades(&trades, BarRule::Volume(1.0)).unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].ts, at(0));
        assert_eq!(bars[1].ts, at(10));
        assert_eq!(bars[0].volume, 1.0);
    }

    #[test]
    fn minute_bars_to_five_minutes() {
        let m = |minutes: i64| at(minutes * 60);
        let bars = [
            bar(m(0), 10.0, 11.0, 9.5, 10.5, 100.0),
            bar(m(1), 10.5, 12.0, 10.0, 11.0, 50.0),
            bar(m(4), 11.0, 11.5, 8.0, 9.0, 25.0),
            // 00:05-00:10 is empty; 00:10 has one bar.
            bar(m(12), 9.0, 9.5, 8.5, 9.25, 10.0),
        ];
        let expected = [
            bar(m(0), 10.0, 12.0, 8.0, 9.0, 175.0),
            bar(m(10), 9.0, 9.5, 8.5, 9.25, 10.0),
        ];
        assert_eq!(resample_bars(&bars, 5 * MINUTE).unwrap(), expected);
        let mut resampler = Resampler::try_new("5m".parse().unwrap()).unwrap();
        assert_eq!(resampler.push_bar(&bars[0]).unwrap(), None);
        assert_eq!(resampler.partial(), Some(bars[0]));
        assert_eq!(resampler.push_bar(&bars[1]).unwrap(), None);
        assert_eq!(resampler.push_bar(&bars[2]).unwrap(), None);
        assert_eq!(resampler.push_bar(&bars[3]).unwrap(), Some(expected[0]));
        assert_eq!(resampler.finish(), Some(expected[1]));
        assert_eq!(resampler.finish(), None);
        // Daily bars from hourly ones open at midnight UTC.
        let hourly: Vec<Bar> = (0..48)
            .map(|h| bar(at(h * 3600 + 3600), 10.0, 11.0, 9.0, 10.0, 1.0))
            .collect();
        let daily = resample_bars(&hourly, NANOS_PER_DAY).unwrap();
        assert_eq!(daily.len(), 3);
        assert_eq!(daily[1].ts, at(86_400));
        assert_eq!(
            daily.iter().map(|bar| bar.volume).collect::<Vec<_>>(),
            [23.0, 24.0, 1.0]
        );
    }

    #[test]
    fn time_bars_align_to_the_epoch_before_1970() {
        let trades = [
            (Timestamp(-NANOS_PER_SECOND), trade(0, 10.0, 1.0).1),
            (Timestamp(0), trade(0, 11.0, 1.0).1),
        ];
        let bars = resample_trades(
            &trades,
            BarRule::Time {
                interval_ns: MINUTE,
            },
        )
        .unwrap();
        assert_eq!(bars[0].ts, Timestamp(-MINUTE));
        assert_eq!(bars[1].ts, Timestamp(0));
        // Near i64::MIN the open time saturates rather than overflowing.
        let trades = [(Timestamp(i64::MIN), trade(0, 10.0, 1.0).1)];
        let bars = resample_trades(
            &trades,
            BarRule::Time {
                interval_ns: MINUTE,
            },
        )
        .unwrap();
        assert_eq!(bars[0].ts, Timestamp(i64::MIN));
    }

    #[test]
    fn rules_parse_and_display() {
        let s = NANOS_PER_SECOND;
        for (text, rule) in [
            (
                "1m",
                BarRule::Time {
                    interval_ns: 60 * s,
                },
            ),
            ("5s", BarRule::Time { interval_ns: 5 * s }),
            (
                "1h",
                BarRule::Time {
                    interval_ns: 3600 * s,
                },
            ),
            (
                "1d",
                BarRule::Time {
                    interval_ns: NANOS_PER_DAY,
                },
            ),
            ("250ms", BarRule::Time { interval_ns: s / 4 }),
            ("ticks:100", BarRule::Ticks(100)),
            ("volume:5000", BarRule::Volume(5000.0)),
            ("volume:0.5", BarRule::Volume(0.5)),
            ("dollar:1000000", BarRule::Dollar(1e6)),
        ] {
            assert_eq!(text.parse::<BarRule>().unwrap(), rule, "{text}");
            assert_eq!(rule.to_string(), text);
        }
        assert_eq!(" time:90s ".parse::<BarRule>().unwrap().to_string(), "90s");
        assert_eq!(
            "dollar:1e6".parse::<BarRule>().unwrap(),
            BarRule::Dollar(1e6)
        );
        assert_eq!("60m".parse::<BarRule>().unwrap().to_string(), "1h");
        assert_eq!(BarRule::Time { interval_ns: 1500 }.to_string(), "1500ns");
        let weeks = |weeks, end| BarRule::Weeks { weeks, end };
        for (text, rule) in [
            ("1w", weeks(1, chrono::Weekday::Sun)),
            ("2w", weeks(2, chrono::Weekday::Sun)),
            ("W-FRI", weeks(1, chrono::Weekday::Fri)),
        ] {
            assert_eq!(text.parse::<BarRule>().unwrap(), rule, "{text}");
            assert_eq!(rule.to_string(), text);
        }
        assert_eq!("W-SUN".parse::<BarRule>().unwrap().to_string(), "1w");
        assert!("W-FUNDAY".parse::<BarRule>().is_err());
    }

    #[test]
    fn weeks_group_like_pandas_w_sun_and_w_fri() {
        // Daily bars from Monday 2024-01-01 to Sunday 2024-01-14.
        let daily: Vec<Bar> = (0..14)
            .map(|d| Bar {
                ts: Timestamp::from_secs(1_704_067_200 + 86_400 * d),
                open: 10.0 + d as f64,
                high: 20.0 + d as f64,
                low: 5.0,
                close: 11.0 + d as f64,
                volume: 1.0,
            })
            .collect();
        let run = |rule: &str| {
            let mut resampler = Resampler::try_new(rule.parse().unwrap()).unwrap();
            let mut out = Vec::new();
            for bar in &daily {
                out.extend(resampler.push_bar(bar).unwrap());
            }
            out.extend(resampler.finish());
            out
        };
        // pandas' resample("W-SUN") groups Monday to Sunday: two weeks of 7 bars, opening on
        // the Mondays (pandas labels them with the Sundays, 2024-01-07 and 2024-01-14).
        let w = run("1w");
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].ts, w[1].ts), (daily[0].ts, daily[7].ts));
        assert_eq!((w[0].open, w[0].close, w[0].volume), (10.0, 17.0, 7.0));
        // resample("W-FRI"): Monday to Friday, then Saturday to Friday, then the rest.
        let fri = run("W-FRI");
        let volumes: Vec<f64> = fri.iter().map(|b| b.volume).collect();
        assert_eq!(volumes, [5.0, 7.0, 2.0]);
        assert_eq!(fri[1].ts, daily[5].ts, "opens on Saturday 2024-01-06");
        assert_eq!(fri[0].ts, Timestamp::from_secs(1_704_067_200 - 2 * 86_400));
    }

    #[test]
    fn bad_rules_say_what_was_expected() {
        for (text, expected) in [
            ("", "an interval such as 5s"),
            ("1x", "an interval such as 5s"),
            ("0m", "an interval such as 5s"),
            ("-1m", "an interval such as 5s"),
            ("bars:5", "an interval such as 5s"),
            ("time:0s", "a positive interval"),
            ("ticks:0", "a positive whole number of trades"),
            ("ticks:-3", "a positive whole number of trades"),
            ("ticks:1.5", "a positive whole number of trades"),
            ("volume:0", "a positive finite quantity"),
            ("volume:-5", "a positive finite quantity"),
            ("volume:nan", "a positive finite quantity"),
            ("volume:", "a positive finite quantity"),
            ("dollar:inf", "a positive finite notional"),
            ("dollar:1e999", "a positive finite notional"),
        ] {
            let err = text.parse::<BarRule>().unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("invalid bar rule {:?}: expected", text.trim())),
                "{message}"
            );
            assert!(message.contains(expected), "{text}: {message}");
        }
        for rule in [
            BarRule::Time { interval_ns: 0 },
            BarRule::Time {
                interval_ns: -MINUTE,
            },
            BarRule::Ticks(0),
            BarRule::Volume(0.0),
            BarRule::Volume(f64::NAN),
            BarRule::Dollar(-1.0),
            BarRule::Dollar(f64::INFINITY),
        ] {
            let err = Resampler::try_new(rule).unwrap_err();
            assert!(matches!(err, ResampleError::InvalidRule { .. }), "{err}");
            assert!(resample_trades(&[], rule).is_err(), "{rule}");
        }
        assert!(resample_bars(&[], 0).is_err());
    }

    #[test]
    fn out_of_order_tick_names_both_timestamps() {
        let trades = [trade(10, 1.0, 1.0), trade(10, 1.0, 1.0), trade(9, 1.0, 1.0)];
        let err = resample_trades(&trades, BarRule::Ticks(5)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tick at index 2, ts: timestamp 2024-01-01T00:00:09Z is before the previous row's \
             2024-01-01T00:00:10Z"
        );
    }

    #[test]
    fn bad_ticks_are_rejected_and_ignored() {
        let mut resampler = Resampler::try_new(BarRule::Ticks(2)).unwrap();
        resampler.push(at(5), Price(10.0), Qty(1.0)).unwrap();
        let cases = [
            (at(6), f64::NAN, 1.0, "price", "NaN is not a finite number"),
            (
                at(6),
                f64::INFINITY,
                1.0,
                "price",
                "inf is not a finite number",
            ),
            (at(6), 0.0, 1.0, "price", "price 0 is not positive"),
            (at(6), -2.0, 1.0, "price", "price -2 is not positive"),
            (at(6), 10.0, -1.0, "qty", "quantity -1 is negative"),
            (at(6), 10.0, f64::NAN, "qty", "NaN is not a finite number"),
            (at(4), 10.0, 1.0, "ts", "is before the previous row's"),
        ];
        for (index, (ts, price, qty, field, message)) in cases.into_iter().enumerate() {
            let err = resampler.push(ts, Price(price), Qty(qty)).unwrap_err();
            let ResampleError::InvalidInput {
                input,
                index: found,
                field: found_field,
                ..
            } = &err
            else {
                panic!("{err}")
            };
            assert_eq!(
                (*input, *found, *found_field),
                ("tick", index as u64 + 1, field)
            );
            assert!(err.to_string().contains(message), "{err}");
        }
        // Rejected ticks left the open bar untouched.
        let bar = resampler
            .push(at(7), Price(12.0), Qty(2.0))
            .unwrap()
            .unwrap();
        assert_eq!(
            bar,
            Bar {
                ts: at(5),
                open: 10.0,
                high: 12.0,
                low: 10.0,
                close: 12.0,
                volume: 3.0
            }
        );
    }

    #[test]
    fn bad_bars_are_rejected() {
        let good = bar(at(0), 10.0, 11.0, 9.0, 10.0, 5.0);
        let cases = [
            (
                bar(at(0), 10.0, 11.0, 9.0, 10.0, 5.0),
                "ts",
                "is equal to the previous",
            ),
            (
                bar(at(-60), 10.0, 11.0, 9.0, 10.0, 5.0),
                "ts",
                "is before the previous",
            ),
            (
                bar(at(60), 0.0, 11.0, 9.0, 10.0, 5.0),
                "open",
                "price 0 is not positive",
            ),
            (
                bar(at(60), 10.0, f64::NAN, 9.0, 10.0, 5.0),
                "high",
                "NaN is not a finite",
            ),
            (
                bar(at(60), 10.0, 11.0, 9.0, 10.0, -5.0),
                "volume",
                "volume -5 is negative",
            ),
            (
                bar(at(60), 10.0, 9.5, 9.0, 10.0, 5.0),
                "high",
                "high 9.5 is below open 10",
            ),
            (
                bar(at(60), 10.0, 11.0, 10.5, 10.0, 5.0),
                "low",
                "low 10.5 is above open 10",
            ),
        ];
        for (bad, field, message) in cases {
            let err = resample_bars(&[good, bad], MINUTE).unwrap_err();
            assert!(
                matches!(err, ResampleError::InvalidInput { input: "bar", index: 1, field: f, .. } if f == field),
                "{err}"
            );
            assert!(err.to_string().contains(message), "{err}");
        }
        let mut resampler = Resampler::try_new(BarRule::Ticks(3)).unwrap();
        let err = resampler.push_bar(&good).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bars can be resampled only to a time interval, not by ticks:3"
        );
    }

    #[test]
    fn one_resampler_takes_one_kind_of_input() {
        let mut resampler = Resampler::try_new("1h".parse().unwrap()).unwrap();
        resampler.push(at(0), Price(10.0), Qty(1.0)).unwrap();
        let err = resampler
            .push_bar(&bar(at(60), 1.0, 1.0, 1.0, 1.0, 1.0))
            .unwrap_err();
        assert_eq!(
            err,
            ResampleError::MixedInput {
                input: "bar",
                index: 1
            }
        );
        let mut resampler = Resampler::try_new("1h".parse().unwrap()).unwrap();
        resampler
            .push_bar(&bar(at(0), 1.0, 1.0, 1.0, 1.0, 1.0))
            .unwrap();
        assert!(resampler.push(at(60), Price(10.0), Qty(1.0)).is_err());
    }

    #[test]
    fn empty_input_gives_no_bars() {
        for rule in ["1m", "ticks:3", "volume:10", "dollar:10"] {
            let rule: BarRule = rule.parse().unwrap();
            assert_eq!(resample_trades(&[], rule).unwrap(), []);
            let mut resampler = Resampler::try_new(rule).unwrap();
            assert_eq!((resampler.partial(), resampler.finish()), (None, None));
        }
        assert_eq!(resample_bars(&[], MINUTE).unwrap(), []);
    }
}

mod property_tests {
    use crate::Side;
    use crate::resample::*;
    use chrono::Datelike;
    use proptest::prelude::*;

    /// The midnight opening the one-week bar of a `W-<end>` rule that holds `ts`, by calendar.
    fn week_open(rule: BarRule, ts: Timestamp) -> Timestamp {
        let BarRule::Weeks { end, .. } = rule else {
            return ts;
        };
        let mut day = ts.to_datetime().date_naive();
        while day.weekday() != end.succ() {
            day = day.pred_opt().unwrap();
        }
        Timestamp::from_date(day)
    }

    /// A straightforward grouping of ticks into bars, written apart from the streaming code.
    fn reference(ticks: &[(Timestamp, Trade)], rule: BarRule) -> Vec<Bar> {
        let mut groups: Vec<(Timestamp, Vec<(f64, f64)>)> = Vec::new();
        // Quantity or notional of the last group.
        let mut total = 0.0;
        for &(ts, trade) in ticks {
            let (price, qty) = (trade.price.0, trade.qty.0);
            let start = match (rule, groups.last()) {
                (_, None) => true,
                (BarRule::Time { interval_ns }, Some((open, _))) => {
                    ts.nanos().div_euclid(interval_ns) != open.nanos().div_euclid(interval_ns)
                }
                (BarRule::Weeks { .. }, Some((open, _))) => week_open(rule, ts) != *open,
                (BarRule::Ticks(count), Some((_, group))) => group.len() as u64 >= count,
                (BarRule::Volume(threshold) | BarRule::Dollar(threshold), Some(_)) => {
                    total >= threshold
                }
            };
            if start {
                let open = match rule {
                    BarRule::Time { interval_ns } => {
                        Timestamp(ts.nanos().div_euclid(interval_ns) * interval_ns)
                    }
                    BarRule::Weeks { .. } => week_open(rule, ts),
                    _ => ts,
                };
                groups.push((open, Vec::new()));
                total = 0.0;
            }
            total += match rule {
                BarRule::Dollar(_) => price * qty,
                _ => qty,
            };
            groups.last_mut().unwrap().1.push((price, qty));
        }
        groups
            .into_iter()
            .map(|(ts, ticks)| Bar {
                ts,
                open: ticks[0].0,
                high: ticks.iter().map(|t| t.0).fold(f64::MIN, f64::max),
                low: ticks.iter().map(|t| t.0).fold(f64::MAX, f64::min),
                close: ticks[ticks.len() - 1].0,
                volume: ticks.iter().map(|t| t.1).sum(),
            })
            .collect()
    }

    /// Trades in time order with prices in quarters and quantities in eighths, so every sum is
    /// exact and the reference's plain sums agree with the resampler's compensated ones.
    fn exact_trades() -> impl Strategy<Value = Vec<(Timestamp, Trade)>> {
        let step = prop_oneof![Just(0_i64), 1..5_000_000_000_i64, 1..500_000_000_000_i64];
        let start = -1_000_000_000_000_000_000_i64..1_000_000_000_000_000_000;
        let tick = (step, 1..4000_u32, 0..80_u32);
        (start, prop::collection::vec(tick, 0..200)).prop_map(|(start, ticks)| {
            let mut now = start;
            ticks
                .into_iter()
                .map(|(step, quarters, eighths)| {
                    now += step;
                    let trade = Trade {
                        price: Price(f64::from(quarters) / 4.0),
                        qty: Qty(f64::from(eighths) / 8.0),
                        aggressor: Side::Sell,
                    };
                    (Timestamp(now), trade)
                })
                .collect()
        })
    }

    /// Trades with arbitrary positive prices and quantities.
    fn any_trades() -> impl Strategy<Value = Vec<(Timestamp, Trade)>> {
        let tick = (0..100_000_000_000_i64, 1e-6..1e6_f64, 0.0..1e4_f64);
        prop::collection::vec(tick, 0..200).prop_map(|ticks| {
            let mut now = 0;
            ticks
                .into_iter()
                .map(|(step, price, qty)| {
                    now += step;
                    let trade = Trade {
                        price: Price(price),
                        qty: Qty(qty),
                        aggressor: Side::Buy,
                    };
                    (Timestamp(now), trade)
                })
                .collect()
        })
    }

    fn rules() -> impl Strategy<Value = BarRule> {
        prop_oneof![
            (1..200_000_000_000_i64).prop_map(|interval_ns| BarRule::Time { interval_ns }),
            (0..7_u8).prop_map(|d| BarRule::Weeks {
                weeks: 1,
                end: chrono::Weekday::try_from(d).unwrap(),
            }),
            (1..20_u64).prop_map(BarRule::Ticks),
            (1..400_u32).prop_map(|eighths| BarRule::Volume(f64::from(eighths) / 8.0)),
            (1..40_000_u32).prop_map(|units| BarRule::Dollar(f64::from(units))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn prop_matches_reference(trades in exact_trades(), rule in rules()) {
            let bars = resample_trades(&trades, rule).unwrap();
            prop_assert_eq!(&bars, &reference(&trades, rule));
        }

        #[test]
        fn prop_streaming_equals_batch_and_keeps_invariants(
            trades in any_trades(),
            rule in rules(),
        ) {
            let batch = resample_trades(&trades, rule).unwrap();
            let mut resampler = Resampler::try_new(rule).unwrap();
            let mut streamed = Vec::new();
            for &(ts, trade) in &trades {
                streamed.extend(resampler.push(ts, trade.price, trade.qty).unwrap());
            }
            streamed.extend(resampler.finish());
            prop_assert_eq!(&streamed, &batch);

            prop_assert_eq!(batch.is_empty(), trades.is_empty());
            for bar in &batch {
                prop_assert!(bar.low <= bar.open.min(bar.close), "{:?}", bar);
                prop_assert!(bar.high >= bar.open.max(bar.close), "{:?}", bar);
            }
            for pair in batch.windows(2) {
                match rule {
                    BarRule::Time { .. } => prop_assert!(pair[0].ts < pair[1].ts),
                    _ => prop_assert!(pair[0].ts <= pair[1].ts),
                }
            }
            let ticks: f64 = trades.iter().map(|(_, trade)| trade.qty.0).sum();
            let bars: f64 = batch.iter().map(|bar| bar.volume).sum();
            prop_assert!((ticks - bars).abs() <= 1e-9 * ticks.max(1.0), "{} vs {}", ticks, bars);
            if let BarRule::Ticks(count) = rule {
                prop_assert_eq!(batch.len(), trades.len().div_ceil(count as usize));
            }
        }

        #[test]
        fn prop_bars_of_bars_equal_bars_of_ticks(
            trades in exact_trades(),
            fine in 1..1_000_000_000_i64,
            factor in 1..50_i64,
        ) {
            // Coarse intervals that are multiples of the fine one: each fine bar lies in one
            // coarse bar, so the two paths must agree.
            let coarse = fine * factor;
            let fine_bars = resample_trades(&trades, BarRule::Time { interval_ns: fine }).unwrap();
            let direct = resample_trades(&trades, BarRule::Time { interval_ns: coarse }).unwrap();
            prop_assert_eq!(resample_bars(&fine_bars, coarse).unwrap(), direct);
        }
    }
}
