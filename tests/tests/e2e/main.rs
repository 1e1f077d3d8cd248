//! The end-to-end suite: real `accord` processes, real sockets, real databases. One test
//! binary rather than one per file: each binary links the whole server, and forty-odd of them
//! outgrew the CI disk and spent minutes linking.

mod active_speakers_rank_the_loudest_first;
mod agreement_drafting;
mod audit_verify_detects_tampering;
mod bad_input_gets_error_frames_not_panics;
mod case_work_api;
mod caucus_keeps_each_side_private;
mod cluster_failover;
mod cluster_nodes_share_redis;
mod cluster_placement;
mod cluster_room_http;
mod connection_health_and_save_data;
mod crossing_offers_are_resolved_by_rollback;
mod demo_seeds_a_working_organisation;
mod deploy_files;
mod drain_on_sigterm;
mod hostile_clients_are_bounded;
mod ice_tcp_client_joins_when_udp_is_blocked;
mod impair_proxy_flows_cuts_rebinds_and_relays_tcp;
mod invites_admit_their_person_until_revoked;
mod invites_go_out_through_the_configured_gateway;
mod judicial_confirmation;
mod leaving_cleans_up_rooms_and_sockets;
mod leaving_is_announced_to_others;
mod mediator_with_four_parties;
mod migrations_give_both_databases_one_schema;
mod nack_recovers_video_through_five_percent_loss;
mod one_to_one;
mod online_intake_creates_a_case_with_parties_and_evidence;
mod openapi_documents_every_route;
mod paused_participants_keep_their_seat;
mod personal_data_stays_private;
mod recording_a_session;
mod recording_survives_crash_and_tamper;
mod recording_survives_node_death;
mod resume_takes_over_a_seat_whose_socket_died_unnoticed;
mod session_grants_are_enforced_by_the_server;
mod sign_in_and_intake_are_rate_limited;
mod simulcast_layer_follows_track_settings;
mod six_way_many_to_many;
mod staff_access_is_checked_on_every_case_endpoint;
mod staff_sign_in;
mod tokens_and_headers_are_checked_at_the_edge;
mod whip_publisher_is_seen_and_whep_viewer_receives;
