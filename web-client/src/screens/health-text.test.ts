import { describe, expect, it } from 'vitest';
import type { ConnectionHealth } from '../signal/messages';
import { healthDetail, healthSummary, isProminent, ownQuality, percent } from './health-text';

function health(extra: Partial<ConnectionHealth> = {}): ConnectionHealth {
  return {
    participant_id: 'PA_1',
    quality: 'fair',
    uplink_loss_percent: 3.24,
    downlink_loss_percent: 0.5,
    rtt_ms: 149.6,
    send_kbps: 310.2,
    receive_kbps: 420.4,
    audio_only: false,
    ...extra,
  };
}

describe('connection health in words', () => {
  it('gives a mediator loss, delay and what reaches the person, in both languages', () => {
    expect(healthSummary(health(), 'zh-CN')).toBe('丢包 3.2% · 延迟 150 ms · ↓420 kbps');
    expect(healthSummary(health(), 'en')).toBe('loss 3.2% · delay 150 ms · ↓420 kbps');
  });

  it('shows the worse direction, leaves out what is unknown, and says audio only', () => {
    expect(healthSummary(health({ uplink_loss_percent: null, downlink_loss_percent: 12.6, rtt_ms: null, audio_only: true }), 'zh-CN')).toBe(
      '丢包 13% · ↓420 kbps · 仅语音',
    );
    expect(healthSummary(health({ uplink_loss_percent: null, downlink_loss_percent: null }), 'en')).toBe('delay 150 ms · ↓420 kbps');
  });

  it('says only that the connection is lost when nothing gets through', () => {
    expect(healthSummary(health({ quality: 'lost', audio_only: true }), 'zh-CN')).toBe('连接中断 · 仅语音');
  });

  it('spells out each direction for the tooltip', () => {
    expect(healthDetail(health({ rtt_ms: null }), 'zh-CN')).toBe('网络一般：上行丢包 3.2%，下行丢包 0.5%，延迟 —，发送 310 kbps，接收 420 kbps');
    expect(healthDetail(health({ quality: 'poor', downlink_loss_percent: null }), 'en')).toBe(
      'Poor connection: upload loss 3.2%, download loss —, delay 150 ms, sending 310 kbps, receiving 420 kbps',
    );
  });

  it('rounds loss to a tenth while small', () => {
    expect([percent(0), percent(0.04), percent(9.96), percent(10.4)]).toEqual(['0%', '0%', '10%', '10%']);
  });

  it('prefers the server’s word on our own link and draws attention only when it is not good', () => {
    expect(ownQuality(health({ quality: 'lost' }), 'good')).toBe('lost');
    expect(ownQuality(null, 'poor')).toBe('poor');
    expect(['good', 'unknown', 'fair', 'poor', 'lost'].map((q) => isProminent(q as 'good'))).toEqual([false, false, true, true, true]);
  });
});
