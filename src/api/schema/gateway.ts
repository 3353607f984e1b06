/** Structural schema: Gateway (istio/api networking/v1alpha3/gateway.proto). */
import { z } from 'zod';
import { msg, str, strList, strMap, ServerPort, ServerTLSSettings } from './common.js';

export const Server = msg({
  port: ServerPort,
  bind: str().optional(),
  hosts: strList(),
  tls: ServerTLSSettings.optional(),
  defaultEndpoint: str().optional(),
  name: str().optional(),
});

export const GatewaySpec = msg({
  servers: z.array(Server).optional(),
  selector: strMap().optional(),
});
